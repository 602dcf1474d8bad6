/**
 * The hub's API tokens: an admin token (mutations) and a read token, created at the first start and
 * kept in the database as sha256 hashes so that every replica accepts them (the first replica to
 * save them wins; the others never see the clear text). NRDOT_HUB_TOKEN, when set, is the admin
 * token instead of the stored one. Comparisons are constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { HubStore, TokenKind } from './store/types.js';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function newToken(kind: TokenKind): string {
  return `nrdh_${kind}_${randomBytes(24).toString('base64url')}`;
}

export interface CreatedTokens {
  admin: string;
  read: string;
}

/** Creates the tokens when the database has none; returns them in clear (to print once), else null. */
export async function ensureTokens(store: HubStore): Promise<CreatedTokens | null> {
  const existing = await store.tokenHashes();
  if (existing.admin && existing.read) return null;
  const created = { admin: newToken('admin'), read: newToken('read') };
  const saved = await store.saveTokens({ admin: hashToken(created.admin), read: hashToken(created.read) });
  return saved ? created : null;
}

/** Who a bearer token is: its kind and the name the journal records, or null. */
export interface TokenIdentity {
  kind: TokenKind;
  actor: string;
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/**
 * Checks bearer tokens against the stored hashes (read again at most every `ttlMs`, so a replica
 * sees tokens another one created) and NRDOT_HUB_TOKEN. Hashing first makes every compare the same
 * length, so timingSafeEqual applies and the time says nothing about the token.
 */
export class TokenChecker {
  private hashes: Partial<Record<TokenKind, string>> = {};
  private loadedMs = -Infinity;
  private readonly envHash: string | null;

  constructor(
    private readonly store: HubStore,
    envAdminToken: string | null,
    private readonly now: () => number,
    private readonly ttlMs = 30_000,
  ) {
    this.envHash = envAdminToken ? hashToken(envAdminToken) : null;
  }

  async identify(token: string): Promise<TokenIdentity | null> {
    if (this.now() - this.loadedMs > this.ttlMs) {
      this.hashes = await this.store.tokenHashes();
      this.loadedMs = this.now();
    }
    const h = hashToken(token);
    if (this.envHash !== null) {
      if (sameHash(h, this.envHash)) return { kind: 'admin', actor: 'token:NRDOT_HUB_TOKEN' };
    } else if (this.hashes.admin && sameHash(h, this.hashes.admin)) {
      return { kind: 'admin', actor: 'token:admin' };
    }
    if (this.hashes.read && sameHash(h, this.hashes.read)) return { kind: 'read', actor: 'token:read' };
    return null;
  }
}
