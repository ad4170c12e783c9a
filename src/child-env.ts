/**
 * Rule: a child process (mysqldump, zstd) gets PATH and nothing else of ours. Passed through,
 * MYSQL_PASSWORD or MYSQL_PWD would sit in /proc/<pid>/environ of every child for its lifetime;
 * credentials reach mysqldump only through the private defaults file.
 */
export function childEnvironment(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
}
