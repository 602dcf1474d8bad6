/**
 * The agent's fleet identity and last good fleet layer (migration 4): the OpAMP instance UID, kept for
 * good, and the remote config the hub sent last that validated, re-applied at each start.
 */
import type Database from 'better-sqlite3';

/** A fleet layer as kept: the AgentConfigMap's entries (name -> text) and the hash the hub gave it. */
export interface FleetLayer {
  hash: Buffer;
  files: Record<string, string>;
  received: number;
}

export class FleetState {
  private readonly getUid: Database.Statement<[], { instance_uid: string }>;
  private readonly putUid: Database.Statement<[string, number]>;
  private readonly getLayer: Database.Statement<[], { hash: Buffer; config_map: string; received: number }>;
  private readonly putLayer: Database.Statement<[Buffer, string, number]>;
  private readonly dropLayer: Database.Statement<[]>;

  constructor(db: Database.Database) {
    this.getUid = db.prepare('SELECT instance_uid FROM fleet WHERE id = 1');
    this.putUid = db.prepare('INSERT INTO fleet (id, instance_uid, created) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET instance_uid = excluded.instance_uid, created = excluded.created');
    this.getLayer = db.prepare('SELECT hash, config_map, received FROM fleet_layer WHERE id = 1');
    this.putLayer = db.prepare('INSERT INTO fleet_layer (id, hash, config_map, received) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, config_map = excluded.config_map, received = excluded.received');
    this.dropLayer = db.prepare('DELETE FROM fleet_layer');
  }

  instanceUid(): string | null {
    return this.getUid.get()?.instance_uid ?? null;
  }

  setInstanceUid(uid: string, time: number): void {
    this.putUid.run(uid, time);
  }

  layer(): FleetLayer | null {
    const row = this.getLayer.get();
    if (!row) return null;
    return { hash: row.hash, files: JSON.parse(row.config_map) as Record<string, string>, received: row.received };
  }

  setLayer(layer: FleetLayer): void {
    this.putLayer.run(layer.hash, JSON.stringify(layer.files), layer.received);
  }

  clearLayer(): void {
    this.dropLayer.run();
  }
}
