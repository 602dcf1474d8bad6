import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig } from '../config/index.js';
import { Redactor } from './redact.js';

const redactor = new Redactor(defaultConfig().advanced.redaction.secret_names);

describe('command-line redaction', () => {
  const cases: Array<[string, string]> = [
    ['mysql -uroot -ps3cr3t mydb', 'mysql -uroot -p*** mydb'],
    ['app --password=hunter2 --port 80', 'app --password=*** --port 80'],
    ['app --password hunter2 --port 80', 'app --password *** --port 80'],
    ['env DB_PASSWORD=abc API_KEY=xyz run', 'env DB_PASSWORD=*** API_KEY=*** run'],
    ['java -Dapi.key=abc -jar app.jar', 'java -Dapi.key=*** -jar app.jar'],
    ['agent --auth-token "a b c" --verbose', 'agent --auth-token *** --verbose'],
    ['curl https://bob:pa55@example.com/x', 'curl https://bob:***@example.com/x'],
    ['python author.py run', 'python author.py run'],
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
});
