import { setTimeout as delay } from 'node:timers/promises';
import type { timeline } from '../src/agent/timeline.testkit.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';

/** Shared by the MCP voice tests, test/mcp-e2e.test.ts and test/mcp-elicitation.test.ts (not a test file). */

export const toolAnswer = (messages: readonly ChatMessage[]) =>
  messages.at(-1)?.role === 'tool' ? (messages.at(-1)?.content ?? '') : undefined;

type Timeline = ReturnType<typeof timeline>;

/**
 * Advances the session's virtual clock 20 ms (one audio frame) at a time. While a tool call is in flight it goes
 * no faster than real time, so a real MCP server (child process, HTTP) gets the wall-clock time its work takes
 * while the session's own timers stay deterministic; under load virtual time only falls behind, so no timer
 * fires early. Outside tool calls the clock runs freely.
 */
export async function runPaced(
  t: Timeline,
  untilMs: number,
  done: () => boolean = () => false,
): Promise<void> {
  let inFlight = 0;
  const offCall = t.session.on('toolCall', () => inFlight++);
  const offResult = t.session.on('toolResult', () => inFlight--);
  try {
    while (t.clock.now() < untilMs && !done()) {
      if (inFlight > 0) await delay(20);
      await t.runUntil(t.clock.now() + 20);
    }
  } finally {
    offCall();
    offResult();
  }
}
