// Groups entities into sync.batch frames of at most 500 entities and well under the
// 1 MiB frame limit, and hands each full batch to emit(), which resolves only when the
// job is back under its window: this is where a slow control plane pauses AWS paging.
import { MAX_BATCH_ENTITIES, MAX_FRAME_BYTES, type Entity } from '../protocol/messages.js';

/** Room left for the frame's envelope (type, ids, seq, cursor of up to 16 KiB). */
const MAX_ENTITY_BYTES = MAX_FRAME_BYTES - 64 * 1024;

export class Batcher {
  private entities: Entity[] = [];
  private bytes = 0;
  private chain: Promise<void> = Promise.resolve();
  emitted = 0;

  constructor(
    private readonly emit: (entities: Entity[], cursor: string | undefined) => Promise<void>,
    private readonly cursor: () => string | undefined,
  ) {}

  /** Adds one entity; resolves once it is buffered (and any batch it completed was sent). */
  add(entity: Entity): Promise<void> {
    // Serialized: concurrent units share one buffer and one seq order.
    const next = this.chain.then(async () => {
      const size = Buffer.byteLength(JSON.stringify(entity), 'utf8') + 1;
      if (size > MAX_ENTITY_BYTES) throw new Error(`entity ${entity.kind} ${entity.id.slice(0, 200)} is ${size} bytes, over the frame limit`);
      if (this.entities.length > 0 && (this.entities.length >= MAX_BATCH_ENTITIES || this.bytes + size > MAX_ENTITY_BYTES)) await this.send();
      this.entities.push(entity);
      this.bytes += size;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Sends what is buffered (also an empty batch, when `always`, to carry the final cursor). */
  flush(always = false): Promise<void> {
    const next = this.chain.then(async () => {
      if (this.entities.length > 0 || always) await this.send();
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async send(): Promise<void> {
    const batch = this.entities;
    this.entities = [];
    this.bytes = 0;
    this.emitted += batch.length;
    await this.emit(batch, this.cursor());
  }
}
