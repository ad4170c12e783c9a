import type { ServerInfo } from '../../../src/mysql/server-info.js';

/** The grants the README gives the backup account, per flavour. */
export const README_GRANTS = {
  mysql: ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT', 'PROCESS', 'FLUSH_TABLES', 'REPLICATION CLIENT'],
  mariadb: ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT'],
};

/** What a run reads from a server with a binary log (and, on MySQL, GTIDs) and these privileges. */
export const serverFacts = (flavour: 'mysql' | 'mariadb', privileges: string[], over: Partial<ServerInfo> = {}) => ({
  flavour,
  logBin: true,
  gtidMode: flavour === 'mysql',
  snapshotPosition: flavour === 'mariadb',
  privileges: new Set(privileges),
  ...over,
});

export const without = (list: string[], privilege: string) => list.filter((p) => p !== privilege);
