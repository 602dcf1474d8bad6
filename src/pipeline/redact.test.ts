import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { defaultConfig } from '../config/index.js';
import { redactUrlPasswords, Redactor } from './redact.js';

const redactor = new Redactor(defaultConfig().advanced.redaction.secret_names);

describe('command-line redaction', () => {
  const cases: Array<[string, string]> = [
    ['mysql -uroot -ps3cr3t mydb', 'mysql -uroot -p*** mydb'],
    ['/usr/bin/mysqldump -u backup -phunter2 --all-databases', '/usr/bin/mysqldump -u backup -p*** --all-databases'],
    ['redis-cli -a s3cret ping', 'redis-cli -a *** ping'],
    ['sshpass -p hunter2 ssh host', 'sshpass -p *** ssh host'],
    ['ssh -p2222 host', 'ssh -p2222 host'],
    ['app --password=hunter2 --port 80', 'app --password=*** --port 80'],
    ['app --password hunter2 --port 80', 'app --password *** --port 80'],
    ['app --password -weird --port 80', 'app --password *** --port 80'],
    ['app --token:xyz', 'app --token:***'],
    ['env DB_PASSWORD=abc API_KEY=xyz run', 'env DB_PASSWORD=*** API_KEY=*** run'],
    ['java -Dapi.key=abc -jar app.jar', 'java -Dapi.key=*** -jar app.jar'],
    ['curl -H Authorization: Bearer abc123 https://x', 'curl -H Authorization: Bearer *** https://x'],
    ['curl --header=X-Api-Key:abc https://x', 'curl --header=X-Api-Key:*** https://x'],
    ['curl https://bob:pa55@example.com/x', 'curl https://bob:***@example.com/x'],
    ['python author.py run', 'python author.py run'],
    ['setxkbmap --keyboard-layout us', 'setxkbmap --keyboard-layout us'],
    ['postgres: alice shop 10.1.2.3(5432) idle', 'postgres: alice shop 10.1.2.3(5432) idle'],
    ['nginx: worker process', 'nginx: worker process'],
    ['svc --api-key=K1 --secret S2 --credentials-file /etc/c', 'svc --api-key=*** --secret *** --credentials-file ***'],
  ];
  for (const [input, expected] of cases) {
    it(`redacts ${JSON.stringify(input)}`, () => assert.equal(redactor.redact(input), expected));
  }

  it('applies configured extra patterns', () => {
    const r = new Redactor(['password'], ['AKIA[0-9A-Z]{16}']);
    assert.equal(r.redact('aws s3 ls --profile AKIAABCDEFGHIJKLMNOP'), 'aws s3 ls --profile ***');
  });

  it('finds URL credentials exactly as the regex it replaces did (without its quadratic time)', () => {
    const old = /(\b[a-z][\w+.-]*:\/\/[^:/@\s]+:)[^@\s]+@/gi;
    const piece = fc.constantFrom('a', 'Z', '1', '_', '.', '-', '+', ':', '/', '@', ' ', '\t', 'é', '://', 'https://', 'u:p@', 'x:', '\u00a0');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
        const text = parts.join('');
        assert.equal(redactUrlPasswords(text), text.replace(old, '$1***@'));
      }),
      { numRuns: 3000 },
    );
    assert.equal(redactUrlPasswords('a https://u:p@h/x b+c://v:w:x@y z'), 'a https://u:***@h/x b+c://v:***@y z');
  });
});
