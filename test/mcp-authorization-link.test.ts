import { describe, expect, it } from 'vitest';
import type { AgentSession } from '../src/agent/session.ts';
import { ProtocolBridge } from '../src/transport/bridge.ts';
import type { ServerMessage } from '../src/transport/protocol.ts';
import { PlaybackReceipts } from '../src/transport/receipts.ts';

/** Just enough of a session for the bridge: its id and event subscriptions. */
const session = { id: 's1', on: () => () => undefined, clock: { now: () => 0 } } as unknown as AgentSession;

describe('OAuth hand-off on the talk page', () => {
  it('a client is sent the links waiting at ready, then each new one, until it goes', () => {
    const listeners = new Set<(link: { server: string; url: string }) => void>();
    const sent: ServerMessage[] = [];
    const bridge = new ProtocolBridge({
      session,
      transport: 'websocket',
      send: (m) => sent.push(m),
      receipts: new PlaybackReceipts(session.clock),
      authorizations: {
        pending: () => [{ server: 'calendar', url: 'https://auth.example/authorize?x=1' }],
        subscribe: (listener) => {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
      },
    });
    bridge.ready(16000, 16000);
    for (const listener of listeners) listener({ server: 'mail', url: 'https://id.example/authorize' });
    expect(sent.filter((m) => m.type !== 'ready')).toEqual([
      { type: 'authorization', server: 'calendar', url: 'https://auth.example/authorize?x=1' },
      { type: 'authorization', server: 'mail', url: 'https://id.example/authorize' },
    ]);
    bridge.detach();
    expect(listeners.size).toBe(0);
  });
});
