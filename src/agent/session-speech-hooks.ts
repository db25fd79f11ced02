import type { Clock } from '../metrics/clock.ts';
import type { TypedEmitter } from '../util/emitter.ts';
import type { AgentSessionEvents } from './events.ts';
import type { InterruptionArbiter } from './interruption.ts';
import type { Speech, SpeechHooks } from './speech.ts';

export interface SessionSpeechHookDeps {
  clock: Clock;
  events: TypedEmitter<AgentSessionEvents>;
  interruptions: InterruptionArbiter;
  updateState(): void;
  reportError(source: AgentSessionEvents['error']['source'], error: unknown): void;
}

/** What a session hears from each of its speeches: state changes, the events it forwards, playout receipts. */
export function sessionSpeechHooks(
  id: number,
  speech: () => Speech,
  deps: SessionSpeechHookDeps,
): SpeechHooks {
  const { clock, events } = deps;
  return {
    onFirstPlayed: () => deps.updateState(),
    onSentencePlaying: (text) => events.emit('agentText', { speechId: id, text, atMs: clock.now() }),
    onPlayoutStopped: (receipt) => deps.interruptions.playoutStopped(speech(), receipt),
    onToolCall: (call) => events.emit('toolCall', { speechId: id, call }),
    onToolResult: (call, result, durationMs) =>
      events.emit('toolResult', { speechId: id, call, result, durationMs }),
    onToolProgress: (call, progress) =>
      events.emit('toolProgress', { speechId: id, call, progress, atMs: clock.now() }),
    onError: (error, failed) => deps.reportError(failed, error),
    onApologyPlayed: (atMs, via) => {
      deps.updateState();
      events.emit('apology', { speechId: id, via, atMs });
    },
    onChange: () => deps.updateState(),
  };
}
