/** Parses the sidecar's exposition text into name{labels} -> value. */
export async function scrape(base: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return new Map(
    text
      .split('\n')
      .filter((line) => line.startsWith('mysql_backup_'))
      .map((line) => {
        const at = line.lastIndexOf(' ');
        return [line.slice(0, at), Number(line.slice(at + 1))];
      }),
  );
}
