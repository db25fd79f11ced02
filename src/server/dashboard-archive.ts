import type { AgentSession } from '../agent/session.ts';
import type { AudioFrame } from '../audio/frame.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import type { ConversationStore, StoredEventKind } from '../store/types.ts';

export interface LiveSession {
  id: string;
  startedAt: number;
  state: string;
  turns: number;
  lastVoiceToVoiceMs: number | null;
  experiment: string | null;
  variant: string | null;
  recording: boolean;
}

export interface ArchiveOptions {
  store: ConversationStore;
  /** Record both sides of every session (opt-in; see the privacy note in README "Dashboard"). */
  recordAudio: boolean;
  /** The experiment variant a session was built with, if any (experiments.ts records it at creation). */
  assignmentOf?(sessionId: string): { experiment: string; variant: string } | undefined;
  /** Every turn record, for the alert rules and OpenTelemetry. */
  onTurn?(record: TurnMetrics, session: AgentSession): void;
}

/**
 * Feeds each session's events to the store: its start and end, every turn record, final transcripts, turn
 * commits, speech starts and ends, interruptions, tool calls and results, errors, and (opt-in) both sides of
 * its audio. Each listener only queues (the store batches off the audio path); a store that throws is caught
 * here, so a session never sees it.
 */
export class SessionArchive {
  private readonly live = new Map<string, LiveSession>();

  constructor(private readonly options: ArchiveOptions) {}

  liveSessions(): LiveSession[] {
    return [...this.live.values()].map((s) => ({ ...s }));
  }

  attach(session: AgentSession, closed: Promise<void>, transport?: string): void {
    const { store } = this.options;
    const id = session.id;
    const origin = session.clock.now();
    const assignment = this.options.assignmentOf?.(id);
    const recording = this.options.recordAudio;
    const entry: LiveSession = {
      id,
      startedAt: Date.now(),
      state: session.state,
      turns: 0,
      lastVoiceToVoiceMs: null,
      experiment: assignment?.experiment ?? null,
      variant: assignment?.variant ?? null,
      recording,
    };
    this.live.set(id, entry);
    const safe = (write: () => void) => {
      try {
        write();
      } catch {
        // The store reports its own failures (health, log); the conversation goes on regardless.
      }
    };
    safe(() =>
      store.beginSession({
        id,
        startedAt: entry.startedAt,
        clockOriginMs: origin,
        transport,
        experiment: assignment?.experiment,
        variant: assignment?.variant,
        recording,
      }),
    );
    const rel = (atMs: number) => Math.round((atMs - origin) * 10) / 10;
    const event = (kind: StoredEventKind, atMs: number, data: unknown) =>
      safe(() => store.addEvent({ sessionId: id, kind, atMs: rel(atMs), data }));
    const now = () => session.clock.now();
    const off = [
      session.on('state', ({ state, atMs }) => {
        entry.state = state;
        event('state', atMs, { state });
      }),
      session.on('transcript', ({ text, final, atMs }) => {
        if (final) event('transcript', atMs, { text });
      }),
      session.on('turnCommitted', ({ turnId, transcript, atMs }) =>
        event('turnCommitted', atMs, { turnId, transcript }),
      ),
      session.on('speechStarted', ({ speechId, turnId, atMs }) =>
        event('speechStarted', atMs, { speechId, turnId }),
      ),
      session.on('speechEnded', ({ speechId, outcome, heardText, atMs }) =>
        event('speechEnded', atMs, { speechId, outcome, heardText }),
      ),
      session.on('interruption', ({ speechId, kind, atMs }) =>
        event('interruption', atMs, { speechId, kind }),
      ),
      session.on('toolCall', ({ speechId, call }) => event('toolCall', now(), { speechId, call })),
      session.on('toolResult', ({ speechId, call, result, durationMs }) =>
        event('toolResult', now(), { speechId, name: call.name, result, durationMs }),
      ),
      session.on('error', ({ source, error }) => event('error', now(), { source, message: error.message })),
      session.on('metrics', (record) => {
        entry.turns++;
        entry.lastVoiceToVoiceMs = record.voiceToVoiceMs;
        // Wall-clock times on the record: where the turn sits in the recording and the timeline.
        safe(() => store.addTurn(id, record, Date.now()));
        try {
          this.options.onTurn?.(record, session);
        } catch {
          // An alert or trace exporter that throws is its own problem, not the conversation's.
        }
      }),
    ];
    if (recording) this.tapAudio(session, origin);
    void closed.then(() => {
      for (const unsubscribe of off) unsubscribe();
      this.live.delete(id);
      safe(() => store.endSession(id, Date.now()));
    });
  }

  /**
   * Both sides of the conversation, placed on the session clock: the user's frames at their timestamps, the
   * agent's when the transport takes them for playout (within its small send-ahead of when they are heard).
   * The session has no audio hook, so its pushAudio and start are wrapped on this instance only.
   */
  private tapAudio(session: AgentSession, origin: number): void {
    const { store } = this.options;
    const push = session.pushAudio.bind(session);
    session.pushAudio = (frame: AudioFrame) => {
      push(frame);
      try {
        store.addAudio(session.id, 'user', frame.timestampMs - origin, frame.samples, frame.sampleRate);
      } catch {}
    };
    const start = session.start.bind(session);
    session.start = (output) =>
      start({
        get sampleRate() {
          return output.sampleRate;
        },
        get isClosed() {
          return output.isClosed;
        },
        clear: () => output.clear(),
        play: (frames, options) =>
          output.play(
            (async function* () {
              for await (const frame of frames) {
                try {
                  store.addAudio(
                    session.id,
                    'agent',
                    session.clock.now() - origin,
                    frame.samples,
                    frame.sampleRate,
                  );
                } catch {}
                yield frame;
              }
            })(),
            options,
          ),
      });
  }
}
