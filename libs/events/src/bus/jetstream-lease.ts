import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { defaultBusLogger, type BusLogger } from './bus-logger.js';

/** How long a lease lasts without renewal, when not told otherwise. */
export const DEFAULT_LEASE_TTL_MS = 3000;

export interface JetStreamLeaseOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** The stream holding the platform's leases (`busNames().lease_stream`), made by `ensureLeaseStream`. */
  stream: string;
  /** This lease's subject in it, e.g. `powernode.leases.relay`. */
  subject: string;
  /** Names this holder in the lease and in logs. Default `<hostname>-<pid>-<random>`. */
  holder?: string;
  /** A lease not renewed for this long is free for another holder. Must equal the stream's `max_age`. Default 3 s. */
  ttl_ms?: number;
  /** Runs when this process becomes the holder; the lease is renewed while it runs. */
  onAcquired(): Promise<void>;
  /** Runs when this process stops being the holder (lost, fenced or released), before anyone else can hold it. */
  onLost(reason: string): Promise<void>;
  logger?: BusLogger;
}

/** What a lease looks like from one contender. */
export interface LeaseStatus {
  holder: string;
  holding: boolean;
  /** When this process last became the holder (ISO time), or null. */
  held_since: string | null;
  /** How many times this process became the holder. */
  acquisitions: number;
}

/**
 * The JetStream stream of the platform's leases: at most one message per subject, each expiring after the TTL.
 * A lease is held by whoever wrote the subject's one message; nobody can write it while that message exists.
 */
export async function ensureLeaseStream(
  jsm: JetStreamManager,
  options: { name: string; subjects: string[]; ttl_ms?: number; num_replicas?: number },
): Promise<void> {
  const config = {
    subjects: options.subjects,
    max_msgs_per_subject: 1,
    max_age: nanos(options.ttl_ms ?? DEFAULT_LEASE_TTL_MS),
    discard: DiscardPolicy.Old,
  };
  try {
    const existing = await jsm.streams.info(options.name);
    const replicas = options.num_replicas ?? 1;
    if (existing.config.max_age !== config.max_age || existing.config.max_msgs_per_subject !== 1 || existing.config.num_replicas !== replicas) {
      await jsm.streams.update(options.name, { ...existing.config, ...config, num_replicas: replicas });
    }
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
    await jsm.streams.add({
      name: options.name,
      ...config,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      num_replicas: options.num_replicas ?? 1,
    });
  }
}

/**
 * One contender for a lease kept in a JetStream stream (`ensureLeaseStream`). Acquiring is a publish that
 * JetStream accepts only when the subject holds no message (expected last subject sequence 0); renewing is a
 * publish expecting our own last sequence; the stream's `max_age` expires a lease its holder stopped renewing,
 * which is how a killed holder's lease moves on within the TTL.
 *
 * A holder that cannot renew (NATS unreachable) stops acting as holder (`onLost`) a third of the TTL before
 * its lease can expire, so two holders never act at once as long as clocks run at the same rate. A holder that
 * stops releases the lease at once.
 */
export class JetStreamLease {
  private readonly ttl: number;
  private readonly holderId: string;
  private readonly logger: BusLogger;
  private sequence = 0;
  private renewedAt = 0;
  private holdingSince: Date | null = null;
  private acquisitions = 0;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: JetStreamLeaseOptions) {
    this.ttl = options.ttl_ms ?? DEFAULT_LEASE_TTL_MS;
    this.holderId = options.holder ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.logger = options.logger ?? defaultBusLogger('lease');
  }

  /**
   * Starts contending: resolves after the first attempt (holding, and `onAcquired` done, when the lease was
   * free), then goes on in the background: acquires when the lease is free, renews it until lost or stopped.
   */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.tryAcquire();
    this.loop = this.run();
  }

  /** Stops contending; a holder runs `onLost` and releases the lease so another contender takes it at once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.holdingSince !== null) {
      await this.lose('stopped');
      // Only our own message goes: a purge below our sequence + 1 keeps a newer holder's.
      await this.options.jsm.streams.purge(this.options.stream, { filter: this.options.subject, seq: this.sequence + 1 }).catch((error: unknown) => {
        this.logger.warn({ err: error, lease: this.options.subject }, 'cannot release the lease; it expires within its TTL');
      });
    }
  }

  status(): LeaseStatus {
    return {
      holder: this.holderId,
      holding: this.holdingSince !== null,
      held_since: this.holdingSince?.toISOString() ?? null,
      acquisitions: this.acquisitions,
    };
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Contenders ask often, so a free lease is taken soon after it expires; a holder renews three times a TTL.
      await this.sleep(this.holdingSince === null ? Math.max(50, this.ttl / 6) : this.ttl / 3);
      if (this.stopped) break;
      if (this.holdingSince === null) await this.tryAcquire();
      else await this.renew();
    }
  }

  private async tryAcquire(): Promise<void> {
    const sentAt = Date.now();
    try {
      const ack = await this.options.js.publish(this.options.subject, this.document(), { expect: { lastSubjectSequence: 0 }, timeout: this.ttl / 3 });
      this.sequence = ack.seq;
      this.renewedAt = sentAt;
      this.holdingSince = new Date();
      this.acquisitions += 1;
      this.logger.info({ lease: this.options.subject, holder: this.holderId }, 'lease acquired');
      try {
        await this.options.onAcquired();
      } catch (error) {
        this.logger.error({ err: error, lease: this.options.subject }, 'cannot act on an acquired lease; releasing it');
        await this.lose('failed to start');
        await this.options.jsm.streams.purge(this.options.stream, { filter: this.options.subject, seq: this.sequence + 1 }).catch(() => undefined);
      }
    } catch (error) {
      if (!isWrongLastSequence(error)) this.logger.warn({ err: error, lease: this.options.subject }, 'cannot contend for the lease; retrying');
    }
  }

  private async renew(): Promise<void> {
    const sentAt = Date.now();
    try {
      const ack = await this.options.js.publish(this.options.subject, this.document(), {
        expect: { lastSubjectSequence: this.sequence },
        timeout: this.ttl / 3,
      });
      this.sequence = ack.seq;
      this.renewedAt = sentAt;
    } catch (error) {
      if (isWrongLastSequence(error)) {
        await this.lose('taken by another holder after it expired');
        return;
      }
      // The lease may expire ttl after the last renewal that reached the server; stop acting well before that.
      if (Date.now() - this.renewedAt >= (this.ttl * 2) / 3) await this.lose(`not renewed for ${Date.now() - this.renewedAt} ms: ${(error as Error).message}`);
      else this.logger.warn({ err: error, lease: this.options.subject }, 'cannot renew the lease; retrying');
    }
  }

  private async lose(reason: string): Promise<void> {
    if (this.holdingSince === null) return;
    this.holdingSince = null;
    if (reason === 'stopped') this.logger.info({ lease: this.options.subject, holder: this.holderId }, 'lease released');
    else this.logger.warn({ lease: this.options.subject, holder: this.holderId, reason }, 'lease lost');
    try {
      await this.options.onLost(reason);
    } catch (error) {
      this.logger.error({ err: error, lease: this.options.subject }, 'failed to stop acting on a lost lease');
    }
  }

  private document(): string {
    return JSON.stringify({ holder: this.holderId, at: new Date().toISOString() });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        clearTimeout(this.timer);
        resolve();
      };
      this.timer = setTimeout(resolve, ms);
    });
  }
}

/** The current holder named in a lease's message, or null when the lease is free. */
export async function leaseHolder(jsm: JetStreamManager, stream: string, subject: string): Promise<string | null> {
  try {
    const message = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    return message === null ? null : ((message.json() as { holder?: string }).holder ?? null);
  } catch (error) {
    if (error instanceof JetStreamApiError && (error.code === JetStreamApiCodes.NoMessageFound || error.code === JetStreamApiCodes.StreamNotFound)) return null;
    throw error;
  }
}

function isWrongLastSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence;
}
