/** Sizes as every message and table of the sidecar writes them: "12.3 MiB". */
export const formatMiB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
