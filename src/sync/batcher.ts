// Groups entities into sync.batch frames of at most 500 entities and well under the
// 1 MiB frame limit, and hands each full batch to emit(), which resolves only when the
// job is back under its window: this is where a slow control plane pauses AWS paging.
import { MAX_BATCH_ENTITIES, MAX_FRAME_BYTES, type Entity } from '../protocol/messages.js';

/** Room left for the frame's envelope (type, ids, seq, cursor of up to 16 KiB). */
const MAX_ENTITY_BYTES = MAX_FRAME_BYTES - 64 * 1024;

const BUFFERED: Promise<void> = Promise.resolve();

export class Batcher {
  private entities: Entity[] = [];
  /** Each entity's JSON, measured here; the frame is written from it instead of serializing the entities twice. */
  private json: string[] = [];
  private bytes = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Operations waiting on `chain`; while there are none, add() buffers at once. */
  private queued = 0;
  emitted = 0;

  constructor(
    private readonly emit: (entities: Entity[], cursor: string | undefined, entitiesJson: string) => Promise<void>,
    /** The cursor for the batch being sent; `final` for the last one (flush(true)). */
    private readonly cursor: (final: boolean) => string | undefined,
  ) {}

  /** Adds one entity; resolves once it is buffered (and any batch it completed was sent). */
  add(entity: Entity): Promise<void> {
    const json = JSON.stringify(entity);
    const size = Buffer.byteLength(json, 'utf8') + 1;
    if (size > MAX_ENTITY_BYTES) return Promise.reject(new Error(`entity ${entity.kind} ${entity.id.slice(0, 200)} is ${size} bytes, over the frame limit`));
    // Most entities neither complete a batch nor wait behind one being sent: buffering them
    // synchronously saves two promises and a closure per entity.
    if (this.queued === 0 && !this.full(size)) {
      this.push(entity, json, size);
      return BUFFERED;
    }
    // Serialized: concurrent units share one buffer and one seq order.
    return this.enqueue(async () => {
      if (this.full(size)) await this.send(false);
      this.push(entity, json, size);
    });
  }

  /** Sends what is buffered (also an empty batch, when `always`, to carry the final cursor). */
  flush(always = false): Promise<void> {
    return this.enqueue(async () => {
      if (this.entities.length > 0 || always) await this.send(always);
    });
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    this.queued++;
    const next = this.chain.then(op).finally(() => this.queued--);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private full(size: number): boolean {
    return this.entities.length > 0 && (this.entities.length >= MAX_BATCH_ENTITIES || this.bytes + size > MAX_ENTITY_BYTES);
  }

  private push(entity: Entity, json: string, size: number): void {
    this.entities.push(entity);
    this.json.push(json);
    this.bytes += size;
  }

  private async send(final: boolean): Promise<void> {
    const batch = this.entities;
    const json = this.json.join(',');
    this.entities = [];
    this.json = [];
    this.bytes = 0;
    this.emitted += batch.length;
    await this.emit(batch, this.cursor(final), json);
  }
}
