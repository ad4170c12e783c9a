import { describe, expect, it } from 'vitest';
import { formatOption, mergeGroups, OptionFileError, parseOptionFile } from '../../../src/config/option-file.js';

describe('the .my.cnf format', () => {
  it('reads groups, bare keys, comments and both quote styles', () => {
    const groups = parseOptionFile(
      [
        '# a comment',
        '; another',
        '[client]',
        'user = backup',
        'password="pa ss#word" # trailing comment',
        "host='db.example'",
        'port=3307',
        'skip_ssl',
        '',
        '[mysqldump]',
        'user=dumper',
      ].join('\n'),
    );
    expect(Object.fromEntries(groups.get('client')!)).toEqual({
      user: 'backup',
      password: 'pa ss#word',
      host: 'db.example',
      port: '3307',
      'skip-ssl': '',
    });
    expect(mergeGroups(groups, ['client', 'mysqldump']).get('user')).toBe('dumper');
  });

  it('cuts an unquoted value at # as the clients do', () => {
    expect(parseOptionFile('[client]\npassword=abc#def').get('client')!.get('password')).toBe('abc');
  });

  it.each([
    'plain',
    'with space',
    'quote"double',
    "quote'single",
    'back\\slash',
    'hash#semi;colon',
    'tab\tnewline\nend',
    '"starts and ends with quotes"',
    '\\n is not a newline',
    'ünïcode 🦄',
  ])('writes %j so that it reads back unchanged', (value) => {
    const text = `[client]\n${formatOption('password', value)}\n`;
    expect(parseOptionFile(text).get('client')!.get('password')).toBe(value);
  });

  it('refuses !include rather than silently ignoring it', () => {
    expect(() => parseOptionFile('!include /etc/other.cnf\n[client]\nuser=x')).toThrow(OptionFileError);
  });

  it('refuses options before any group', () => {
    expect(() => parseOptionFile('user=x\n[client]')).toThrow(/before any \[group\]/);
  });
});
