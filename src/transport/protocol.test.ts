import { describe, expect, it } from 'vitest';
import { parseClientMessage } from './protocol.ts';

describe('client protocol', () => {
  it('accepts every documented client message', () => {
    for (const message of [
      { type: 'config', sampleRate: 48000, receipts: true },
      { type: 'config', receipts: false },
      { type: 'text', text: 'hello' },
      { type: 'interrupt' },
      { type: 'playback', speechId: 3, event: 'started' },
      { type: 'playback', speechId: 3, event: 'stopped', playedMs: 840 },
      { type: 'playback', speechId: 3, event: 'finished', playedMs: 2310.5 },
    ]) {
      expect(parseClientMessage(JSON.stringify(message)), JSON.stringify(message)).toEqual({
        ok: true,
        message,
      });
    }
  });

  it('names what is wrong with a bad message', () => {
    const error = (text: string) => {
      const result = parseClientMessage(text);
      return result.ok ? undefined : result.error;
    };
    expect(error('not json')).toMatch(/not JSON/);
    expect(error('{"type":"dance"}')).toMatch(/unknown or malformed message "dance"/);
    expect(error('{"type":"text","text":""}')).toMatch(/at text/);
    expect(error('{"type":"playback","speechId":1,"event":"paused"}')).toMatch(/at event/);
    expect(error('{"type":"playback","speechId":1,"event":"stopped","playedMs":-1}')).toMatch(/at playedMs/);
    expect(error('[]')).toMatch(/unknown or malformed message/);
  });
});
