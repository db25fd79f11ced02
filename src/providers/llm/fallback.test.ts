import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../metrics/clock.ts';
import type { ChatRequest, LLM, LlmChunk, TokenCounter } from './contract.ts';
import { FallbackLlm } from './fallback.ts';
import { type FallbackEvent, fallbackStateOf } from './fallback-rotation.ts';

type Behaviour =
  | { kind: 'reply'; ttftMs: number; text: string }
  | { kind: 'fail'; afterMs: number }
  | { kind: 'failMidway'; text: string };

/** A provider on the virtual clock whose every request follows the next behaviour in its list. */
class StubLlm implements LLM {
  readonly requests: { at: number; aborted: boolean }[] = [];
  constructor(
    readonly name: string,
    private readonly clock: VirtualClock,
    private readonly behaviours: Behaviour[],
  ) {}

  async *chat(request: ChatRequest): AsyncIterable<LlmChunk> {
    const record = { at: this.clock.now(), aborted: false };
    this.requests.push(record);
    request.signal.addEventListener('abort', () => {
      record.aborted = true;
    });
    const behaviour = this.behaviours.length > 1 ? this.behaviours.shift() : this.behaviours[0];
    if (!behaviour) throw new Error('no behaviour');
    try {
      if (behaviour.kind === 'fail') {
        await this.clock.sleep(behaviour.afterMs, request.signal);
        throw new Error(`${this.name} is down`);
      }
      if (behaviour.kind === 'failMidway') {
        yield { type: 'text', delta: behaviour.text };
        throw new Error(`${this.name} dropped`);
      }
      await this.clock.sleep(behaviour.ttftMs, request.signal);
      for (const word of behaviour.text.split(' ')) yield { type: 'text', delta: `${word} ` };
    } catch (error) {
      if (request.signal.aborted) return;
      throw error;
    }
  }
}

function setup(primary: Behaviour[], secondary: Behaviour[], budgetMs = 2000) {
  const clock = new VirtualClock();
  const a = new StubLlm('a', clock, primary);
  const b = new StubLlm('b', clock, secondary);
  const events: FallbackEvent[] = [];
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const llm = new FallbackLlm([a, b], {
    clock,
    budgetMs,
    retryPrimaryAfterMs: 60_000,
    onFallback: (e) => events.push(e),
    log: {
      info: (fields, message) => lines.push({ fields, message }),
      warn: (fields, message) => lines.push({ fields, message }),
    },
  });
  /** Runs one request to its end on the virtual clock; returns the text and when it finished. */
  const ask = async (signal = new AbortController().signal) => {
    let text = '';
    let error: unknown;
    let doneAt = -1;
    const run = (async () => {
      for await (const c of llm.chat({ messages: [{ role: 'user', content: 'hi' }], signal })) {
        if (c.type === 'text') text += c.delta;
      }
    })().then(
      () => {
        doneAt = clock.now();
      },
      (e) => {
        error = e;
        doneAt = clock.now();
      },
    );
    await clock.advance(20_000);
    await run;
    return { text: text.trim(), error, doneAt };
  };
  return { clock, a, b, llm, events, lines, ask };
}

describe('FallbackLlm', () => {
  it('switches on a failure before the first token, logs and counts it, and stays on the fallback', async () => {
    const { a, b, llm, events, lines, ask } = setup(
      [{ kind: 'fail', afterMs: 100 }],
      [{ kind: 'reply', ttftMs: 300, text: 'from b' }],
    );
    const first = await ask();
    expect(first).toMatchObject({ text: 'from b', doneAt: 400 });
    expect(events).toEqual([
      { kind: 'llm', from: 'a', to: 'b', reason: 'error', error: 'a is down', atMs: 100 },
    ]);
    expect(lines[0].message).toContain('failed; falling back');
    expect(fallbackStateOf(llm)).toMatchObject({ activeProvider: 'b', fallbackCount: 1 });

    const second = await ask();
    expect(second.text).toBe('from b');
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(2);
  });

  it('starts the next provider when the first token misses the budget, and takes the first to answer', async () => {
    const { a, b, llm, events, ask } = setup(
      [{ kind: 'reply', ttftMs: 5000, text: 'late a' }],
      [{ kind: 'reply', ttftMs: 300, text: 'quick b' }],
    );
    const reply = await ask();
    expect(reply).toMatchObject({ text: 'quick b', doneAt: 2300 });
    expect(events.map((e) => [e.reason, e.atMs])).toEqual([['budget', 2000]]);
    expect(a.requests[0].aborted).toBe(true);
    expect(b.requests.map((r) => r.at)).toEqual([2000]);
    expect(llm.activeProvider).toBe('b');
  });

  it('keeps a slow primary that still answers before the fallback would', async () => {
    const { b, llm, ask } = setup(
      [{ kind: 'reply', ttftMs: 2100, text: 'slow a' }],
      [{ kind: 'reply', ttftMs: 1000, text: 'b' }],
    );
    const reply = await ask();
    expect(reply).toMatchObject({ text: 'slow a', doneAt: 2100 });
    expect(b.requests[0].aborted).toBe(true);
    expect(llm.activeProvider).toBe('a');
  });

  it('gives the primary another chance after retryPrimaryAfterMs', async () => {
    const { a, clock, llm, lines, ask } = setup(
      [
        { kind: 'fail', afterMs: 0 },
        { kind: 'reply', ttftMs: 100, text: 'a is back' },
      ],
      [{ kind: 'reply', ttftMs: 100, text: 'b' }],
    );
    expect((await ask()).text).toBe('b');
    expect((await ask()).text).toBe('b');
    expect(a.requests).toHaveLength(1);
    await clock.advance(60_000);
    expect((await ask()).text).toBe('a is back');
    expect(llm.activeProvider).toBe('a');
    expect(lines.at(-1)?.message).toContain('answers again');
  });

  it('ends a reply that fails midway with the error, and moves the next turn on', async () => {
    const { b, llm, ask } = setup(
      [{ kind: 'failMidway', text: 'half ' }],
      [{ kind: 'reply', ttftMs: 100, text: 'b' }],
    );
    const broken = await ask();
    expect(broken.text).toBe('half');
    expect((broken.error as Error).message).toBe('a dropped');
    expect(b.requests).toHaveLength(0);
    expect(llm.fallbackCount).toBe(1);
    expect((await ask()).text).toBe('b');
  });

  it('shares one first-token budget over the list: a later provider gets what is left of it', async () => {
    const { a, b, llm, clock } = setup(
      [{ kind: 'reply', ttftMs: 60_000, text: 'never' }],
      [{ kind: 'reply', ttftMs: 60_000, text: 'never either' }],
      2000,
    );
    const budgets: (number | undefined)[] = [];
    for (const stub of [a, b]) {
      const chat = stub.chat.bind(stub);
      stub.chat = (request) => {
        budgets.push(request.firstTokenBudgetMs);
        return chat(request);
      };
    }
    const stop = new AbortController();
    const iterator = llm
      .chat({
        messages: [{ role: 'user', content: 'hi' }],
        signal: stop.signal,
        firstTokenBudgetMs: 8000,
      })
      [Symbol.asyncIterator]();
    const ended = iterator.next().catch(() => undefined);
    await clock.advance(2500);
    expect(budgets).toEqual([8000, 6000]);
    stop.abort();
    await clock.advance(10);
    expect(await ended).toEqual({ done: true, value: undefined });
  });

  it('throws the last error when every provider fails', async () => {
    const { events, ask } = setup([{ kind: 'fail', afterMs: 10 }], [{ kind: 'fail', afterMs: 10 }]);
    const result = await ask();
    expect((result.error as Error).message).toBe('b is down');
    expect(events).toHaveLength(1);
  });

  it('stops every provider at once when the request is aborted', async () => {
    const { a, b, clock, llm } = setup(
      [{ kind: 'reply', ttftMs: 5000, text: 'a' }],
      [{ kind: 'reply', ttftMs: 5000, text: 'b' }],
    );
    const controller = new AbortController();
    const chunks: LlmChunk[] = [];
    const run = (async () => {
      for await (const c of llm.chat({ messages: [], signal: controller.signal })) chunks.push(c);
    })();
    await clock.advance(2500);
    controller.abort();
    await run;
    expect(chunks).toEqual([]);
    expect(a.requests[0].aborted && b.requests[0].aborted).toBe(true);
  });
});

/** A local-model-like provider: a sibling of its own (own state, own turn lock) and a tokenizer. */
class LocalStub extends StubLlm {
  readonly siblings: LocalStub[] = [];
  closed = false;
  constructor(
    name: string,
    private readonly clockRef: VirtualClock,
    private readonly script: Behaviour[],
    readonly counter: TokenCounter = { ...WORDS, name: `tokens:${name}` },
  ) {
    super(name, clockRef, script);
  }
  sibling(): LLM {
    const sibling = new LocalStub(`${this.name}#sibling`, this.clockRef, [...this.script], this.counter);
    this.siblings.push(sibling);
    return sibling;
  }
  async tokenCounter(): Promise<TokenCounter> {
    return this.counter;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const WORDS: TokenCounter = {
  name: 'words',
  countTokens: (text) => text.split(/\s+/).filter(Boolean).length,
  messageOverheadTokens: 1,
  promptOverheadTokens: 0,
};

async function drain(llm: LLM, clock: VirtualClock): Promise<{ text: string; error?: unknown }> {
  let text = '';
  let error: unknown;
  const run = (async () => {
    for await (const c of llm.chat({
      messages: [{ role: 'user', content: 'hi' }],
      signal: new AbortController().signal,
    }))
      if (c.type === 'text') text += c.delta;
  })().catch((e) => {
    error = e;
  });
  await clock.advance(20_000);
  await run;
  return { text: text.trim(), error };
}

describe('FallbackLlm.sibling', () => {
  it('runs side jobs on the providers’ siblings with a rotation of its own, leaving the chain’s untouched', async () => {
    const clock = new VirtualClock();
    const cloud = new StubLlm('cloud', clock, [{ kind: 'fail', afterMs: 100 }]);
    const local = new LocalStub('local', clock, [{ kind: 'reply', ttftMs: 100, text: 'from local' }]);
    const events: FallbackEvent[] = [];
    const chain = new FallbackLlm([cloud, local], { clock, onFallback: (e) => events.push(e) });
    const sibling = chain.sibling();
    expect(sibling.name).toBe('cloud > local#sibling');

    expect((await drain(sibling, clock)).text).toBe('from local');
    // The summary fell back on its own chain: the session's chain still uses (and counts) nothing of it.
    expect(fallbackStateOf(sibling)).toMatchObject({ activeProvider: 'local#sibling', fallbackCount: 1 });
    expect(fallbackStateOf(chain)).toMatchObject({ activeProvider: 'cloud', fallbackCount: 0 });
    expect(events.map((e) => e.to)).toEqual(['local#sibling']);
    // The session's local model was never asked: its KV cache and turn lock are its replies' alone.
    expect(local.requests).toHaveLength(0);
    expect(local.siblings[0].requests).toHaveLength(1);
    expect(cloud.requests).toHaveLength(1); // a stateless provider without a sibling is shared as it is

    // And the other way round: the chain's own fallbacks do not move the sibling.
    const fresh = chain.sibling();
    await drain(chain, clock);
    expect(fallbackStateOf(chain)).toMatchObject({ activeProvider: 'local', fallbackCount: 1 });
    expect(fallbackStateOf(fresh)).toMatchObject({ activeProvider: 'cloud', fallbackCount: 0 });
  });

  it('closes only the siblings it made', async () => {
    const clock = new VirtualClock();
    const cloud = Object.assign(new StubLlm('cloud', clock, [{ kind: 'fail', afterMs: 1 }]), {
      closed: false,
      async close() {
        this.closed = true;
      },
    });
    const local = new LocalStub('local', clock, [{ kind: 'reply', ttftMs: 1, text: 'x' }]);
    const chain = new FallbackLlm([cloud, local], { clock });
    await chain.sibling().close?.();
    expect(local.siblings[0].closed).toBe(true);
    expect(local.closed).toBe(false);
    expect(cloud.closed).toBe(false);
    await chain.close();
    expect(local.closed && cloud.closed).toBe(true);
  });
});

describe('FallbackLlm.tokenCounter', () => {
  it('is the active provider’s tokenizer, or the first provider’s that has one', async () => {
    const clock = new VirtualClock();
    const cloud = new StubLlm('cloud', clock, [{ kind: 'fail', afterMs: 1 }]);
    const a = new LocalStub('a', clock, [{ kind: 'fail', afterMs: 1 }]);
    const b = new LocalStub('b', clock, [{ kind: 'reply', ttftMs: 1, text: 'b' }]);
    expect((await new FallbackLlm([cloud, a, b], { clock }).tokenCounter?.())?.name).toBe('tokens:a');
    const chain = new FallbackLlm([a, b], { clock });
    expect((await chain.tokenCounter?.())?.name).toBe('tokens:a');
    await drain(chain, clock);
    expect(chain.activeProvider).toBe('b');
    expect((await chain.tokenCounter?.())?.name).toBe('tokens:b');
    // No provider has a tokenizer: none is claimed, so callers choose one by name as for any LLM.
    expect(new FallbackLlm([cloud, new StubLlm('other', clock, [])], { clock }).tokenCounter).toBeUndefined();
  });
});
