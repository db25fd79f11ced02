import { type AudioFrame, PIPELINE_SAMPLE_RATE } from '../../audio/frame.ts';
import { rmsDbfs } from '../../audio/level.ts';
import type { SttListener, SttStream, Transcript } from './contract.ts';
import { audioEntry, checkPipelineFrame } from './pipeline-frame.ts';
import type { Decoder } from './pocketsphinx-native.ts';
import { PocketsphinxError } from './pocketsphinx-native.ts';
import type { DecoderPool } from './pocketsphinx-pool.ts';

/** How a stream decides when it needs a decoder. */
export interface SpeechGateOptions {
  /** A frame louder than this is taken as the start of speech (below any VAD's threshold: the VAD decides). */
  gateThresholdDbfs: number;
  /** Audio kept while no decoder is held, replayed into the decoder when speech starts: no word onset is lost. */
  lookbackMs: number;
  /**
   * With a decoder held, this much audio with no frame above the gate and no end-of-speech hint parks the
   * utterance: the decoder goes back to the pool and what it heard is carried into the next final.
   */
  releaseAfterQuietMs: number;
  /** Audio between interim checks; an interim is emitted only when the hypothesis changed. */
  interimIntervalMs: number;
}

type Audio = { kind: 'audio'; samples: Int16Array; startMs: number; endMs: number; voiced: boolean };
/** 'flush' ends the utterance with a final; 'park' ends it silently and carries its text to the next final. */
type Op = Audio | { kind: 'flush' } | { kind: 'park' };

/** Largest batch handed to one native call: bounds koffi's per-call copy when audio piles up. */
const MAX_BATCH_SAMPLES = PIPELINE_SAMPLE_RATE;

/**
 * One user's audio through pocketsphinx, holding a pooled decoder only while they speak. Without a decoder it
 * keeps a short look-back of audio; the first frame above the gate acquires a decoder and replays the look-back,
 * so the decoder hears what it would have heard holding one all along. After the utterance's final (the
 * end-of-speech hint) the decoder goes back to the pool unless more speech is already queued.
 */
export class PocketsphinxStream implements SttStream {
  private decoder: Decoder | undefined;
  private acquiring: AbortController | undefined;
  /** Audio heard while no decoder is held (bounded by lookbackMs). */
  private lookback: Audio[] = [];
  private readonly ops: Op[] = [];
  private pumping = false;
  private closed = false;
  private retired = false;
  /** A failed acquire gives up on the utterance; the next one tries again after the end-of-speech hint. */
  private refusedUntilFlush = false;
  private quietMs = 0;
  private uttStartMs: number | undefined;
  private uttEndMs = 0;
  /** Text of parked utterances, said before the speech the next final covers. */
  private carried: { text: string; startMs: number } | undefined;
  private samplesSinceInterim = 0;
  private lastInterim = '';
  private idleWaiters: (() => void)[] = [];
  private readonly interimSamples: number;
  private readonly onAbort = () => this.close();

  constructor(
    private readonly pool: DecoderPool,
    private readonly gate: SpeechGateOptions,
    private readonly listener: SttListener,
    private readonly signal?: AbortSignal,
  ) {
    this.interimSamples = Math.round((gate.interimIntervalMs * PIPELINE_SAMPLE_RATE) / 1000);
    if (signal?.aborted) {
      this.closed = true;
      this.retired = true;
      return;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get busy(): boolean {
    return !this.closed && (this.pumping || this.acquiring !== undefined || this.ops.length > 0);
  }

  /** Whether this stream holds (or is getting) a decoder now. */
  get holdsDecoder(): boolean {
    return this.decoder !== undefined || this.acquiring !== undefined;
  }

  push(frame: AudioFrame): void {
    checkPipelineFrame(frame, 'pocketsphinx');
    if (this.closed || frame.samples.length === 0) return;
    const audio: Audio = {
      ...audioEntry(frame),
      voiced: rmsDbfs(frame.samples) > this.gate.gateThresholdDbfs,
    };
    if (!this.holdsDecoder) {
      this.keepLookback(audio);
      if (!audio.voiced || this.refusedUntilFlush) return;
      this.ops.push(...this.lookback.splice(0));
      this.quietMs = 0;
      this.acquire();
      return;
    }
    this.ops.push(audio);
    this.quietMs = audio.voiced ? 0 : this.quietMs + (audio.endMs - audio.startMs);
    if (this.quietMs >= this.gate.releaseAfterQuietMs && !this.ops.some((op) => op.kind !== 'audio')) {
      this.ops.push({ kind: 'park' });
      this.quietMs = 0;
    }
    void this.pump();
  }

  flush(): void {
    if (this.closed) return;
    if (this.refusedUntilFlush) {
      // This utterance found no decoder and was reported lost; its end still gets the final a caller waits for.
      this.refusedUntilFlush = false;
      this.lookback.length = 0;
      this.emit('onFinal', this.transcript(''));
      return;
    }
    if (!this.holdsDecoder) {
      // The VAD heard speech the gate did not (very quiet speech), or only parked text is left: decode what the
      // look-back holds so the caller gets its final.
      if (this.lookback.length === 0 && !this.carried) return;
      this.ops.push(...this.lookback.splice(0), { kind: 'flush' });
      this.acquire();
      return;
    }
    this.ops.push({ kind: 'flush' });
    void this.pump();
  }

  /** Stops decoding; no listener call follows. The decoder returns to the pool once its current call ends. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ops.length = 0;
    this.lookback.length = 0;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.acquiring?.abort();
    this.resolveIdle();
    if (!this.pumping) this.retire();
    this.pool.streamClosed();
  }

  /** Resolves once everything pushed so far is decoded (benchmarks and tests; not part of the contract). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.closed || (!this.pumping && !this.acquiring && this.ops.length === 0);
  }

  private keepLookback(audio: Audio): void {
    this.lookback.push(audio);
    let heldMs = 0;
    for (const a of this.lookback) heldMs += a.endMs - a.startMs;
    while (this.lookback.length > 1 && heldMs - this.durationOf(this.lookback[0]) >= this.gate.lookbackMs) {
      heldMs -= this.durationOf(this.lookback[0]);
      this.lookback.shift();
    }
  }

  private durationOf(audio: Audio): number {
    return audio.endMs - audio.startMs;
  }

  private acquire(): void {
    const controller = new AbortController();
    this.acquiring = controller;
    this.pool.acquire(controller.signal, this).then(
      (decoder) => {
        this.acquiring = undefined;
        this.decoder = decoder;
        if (this.closed) this.retire();
        else void this.pump();
      },
      (error: unknown) => {
        this.acquiring = undefined;
        if (this.closed) return;
        this.report(error);
        this.dropUtterance();
      },
    );
  }

  /** No decoder for this utterance: its audio is dropped (the error says so) and a waiting flush still gets a final. */
  private dropUtterance(): void {
    const flushed = this.ops.some((op) => op.kind === 'flush');
    this.ops.length = 0;
    this.carried = undefined;
    this.uttStartMs = undefined;
    this.refusedUntilFlush = !flushed;
    if (flushed) this.emit('onFinal', this.transcript(''));
    this.resolveIdle();
  }

  private async pump(): Promise<void> {
    const decoder = this.decoder;
    if (this.pumping || !decoder || this.closed) return;
    this.pumping = true;
    try {
      while (!this.closed && this.ops.length > 0) {
        const op = this.ops[0];
        if (op.kind === 'audio') {
          await this.decodeAudio(decoder);
          continue;
        }
        this.ops.shift();
        await this.endUtterance(decoder, op.kind);
        if (this.releaseIfQuiet(decoder)) break;
      }
    } catch (error) {
      // A native failure leaves the decoder in an unknown state: free it, never hand it to another session.
      this.decoder = undefined;
      this.pool.discard(decoder);
      if (!this.closed) this.report(error);
      this.close();
    } finally {
      this.pumping = false;
      if (this.closed) this.retire();
      else {
        this.resolveIdle();
        // More speech arrived while this decoder was being given back.
        if (!this.holdsDecoder && this.ops.length > 0) this.acquire();
      }
    }
  }

  /** After an utterance: gives the decoder back unless speech (or a flush) is already queued for it. */
  private releaseIfQuiet(decoder: Decoder): boolean {
    if (this.ops.some((op) => op.kind !== 'audio' || op.voiced)) return false;
    this.decoder = undefined;
    this.pool.release(decoder);
    for (const audio of this.ops.splice(0) as Audio[]) this.keepLookback(audio);
    return true;
  }

  private async decodeAudio(decoder: Decoder): Promise<void> {
    const batch: Audio[] = [];
    let length = 0;
    while (
      this.ops[0]?.kind === 'audio' &&
      (batch.length === 0 || length + this.ops[0].samples.length <= MAX_BATCH_SAMPLES)
    ) {
      const op = this.ops.shift() as Audio;
      batch.push(op);
      length += op.samples.length;
    }
    const samples = batch.length === 1 ? batch[0].samples : concat(batch, length);
    this.uttStartMs ??= batch[0].startMs;
    await decoder.process(samples);
    this.uttEndMs = batch[batch.length - 1].endMs;
    this.samplesSinceInterim += length;
    if (this.closed || this.samplesSinceInterim < this.interimSamples) return;
    this.samplesSinceInterim = 0;
    const text = joinText(this.carried?.text, decoder.partial());
    if (text && text !== this.lastInterim) {
      this.lastInterim = text;
      this.emit('onInterim', this.transcript(text));
    }
  }

  private async endUtterance(decoder: Decoder, kind: 'flush' | 'park'): Promise<void> {
    if (this.uttStartMs === undefined && !this.carried) return; // nothing heard since the last final
    const heard = this.uttStartMs === undefined ? '' : await decoder.finish();
    const text = joinText(this.carried?.text, heard);
    const transcript = this.transcript(text);
    this.uttStartMs = undefined;
    this.samplesSinceInterim = 0;
    if (kind === 'park') {
      this.carried = { text, startMs: transcript.startMs };
      return;
    }
    this.carried = undefined;
    this.lastInterim = '';
    // Emitted even when empty, so a caller waiting on the final for its flush is never left hanging.
    if (!this.closed) this.emit('onFinal', transcript);
  }

  private transcript(text: string): Transcript {
    const startMs = this.carried?.startMs ?? this.uttStartMs ?? this.uttEndMs;
    return { text, language: 'en-US', startMs, endMs: this.uttEndMs };
  }

  private emit(kind: 'onInterim' | 'onFinal', transcript: Transcript): void {
    try {
      this.listener[kind](transcript);
    } catch (error) {
      this.report(error);
    }
  }

  private report(error: unknown): void {
    const wrapped = error instanceof Error ? error : new PocketsphinxError(String(error));
    try {
      this.listener.onError?.(wrapped);
    } catch {
      // a failing error handler must not take the decoder down with it
    }
  }

  private retire(): void {
    if (this.retired) return;
    const decoder = this.decoder;
    if (!decoder) {
      if (!this.acquiring) this.retired = true; // nothing held; a pending acquire retires on arrival
      return;
    }
    this.retired = true;
    this.decoder = undefined;
    if (!decoder.utteranceOpen) {
      this.pool.release(decoder);
      return;
    }
    // End the abandoned utterance so the next session starts clean; the text is discarded.
    decoder.finish().then(
      () => this.pool.release(decoder),
      () => this.pool.discard(decoder),
    );
  }

  private resolveIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

function joinText(before: string | undefined, after: string): string {
  return before ? (after ? `${before} ${after}` : before) : after;
}

function concat(chunks: Audio[], length: number): Int16Array {
  const out = new Int16Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk.samples, offset);
    offset += chunk.samples.length;
  }
  return out;
}
