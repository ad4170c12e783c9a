/** A database, table or trigger name as SQL writes it: in backticks, a backtick inside doubled. */
export const quoteIdentifier = (name: string) => `\`${name.replace(/`/g, '``')}\``;
