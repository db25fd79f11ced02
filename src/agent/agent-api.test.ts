import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MonotonicClock } from '../metrics/clock.ts';
import { ScriptedTts } from '../providers/tts/scripted.ts';
import { startAgentTest } from '../testing/index.ts';
import { AgentDefinitionError, defineAgent, defineTool } from './definition.ts';
import { handoff } from './handoff.ts';

const lookup = defineTool({
  name: 'lookup_order',
  description: 'Find an order by number',
  parameters: z.object({ order: z.string() }),
  execute: async ({ order }, { say }) => {
    say('Let me look that up.');
    return { order, status: 'shipped' };
  },
});

describe('defineAgent', () => {
  it('refuses a definition without instructions, naming the agent and the field', () => {
    expect(() => defineAgent({ name: 'greeter' } as never)).toThrow(AgentDefinitionError);
    expect(() => defineAgent({ name: 'greeter' } as never)).toThrow(
      /agent "greeter": instructions is required/,
    );
    expect(() => defineAgent({ name: 'greeter', instructions: '   ' })).toThrow(/"greeter": instructions/);
  });

  it('refuses a tool without a schema, naming the tool', () => {
    const bad = { name: 'book', description: 'Book a table', execute: async () => 'ok' };
    expect(() =>
      defineAgent({ name: 'booking', instructions: 'Book tables.', tools: [bad as never] }),
    ).toThrow(/agent "booking": tools\[0\] \("book"\) has no parameters schema/);
    const json = { ...bad, parameters: { type: 'object' } };
    expect(() => defineAgent({ name: 'booking', instructions: 'x', tools: [json as never] })).toThrow(
      /tools\[0\] \("book"\) has no parameters schema/,
    );
  });

  it('refuses misspelt fields, hooks that are not functions and bad MCP servers', () => {
    expect(() => defineAgent({ name: 'a', instruction: 'x' } as never)).toThrow(
      /agent "a": "instruction" is not a field of an agent \(did you mean "instructions"\?\)/,
    );
    expect(() => defineAgent({ name: 'a', instructions: 'x', onEnter: 'hello' as never })).toThrow(
      /agent "a": onEnter must be a function/,
    );
    expect(() =>
      defineAgent({ name: 'a', instructions: 'x', mcpServers: [{ name: 'docs' } as never] }),
    ).toThrow(/agent "a": mcpServers\[0.*is not a valid MCP server/);
  });

  it('refuses a handoff to something that is not an agent', () => {
    expect(() => handoff({ name: 'billing', instructions: 'x' } as never)).toThrow(
      /agent "billing": handoff target is not an agent/,
    );
  });
});

describe('agent sessions', () => {
  it('answers, calls a tool with its context, and speaks the tool status', async () => {
    const agent = defineAgent({ name: 'support', instructions: 'Help with orders.', tools: [lookup] });
    const test = await startAgentTest(agent, {
      llm: [{ tool: 'lookup_order', args: { order: 'A17' } }, 'Order A17 has shipped.'],
    });
    const turn = await test.user('Where is order A17?');
    expect(turn.toolCalls).toEqual([
      expect.objectContaining({ name: 'lookup_order', args: { order: 'A17' }, isError: false }),
    ]);
    expect(turn.said).toBe('Order A17 has shipped.');
    // The tool's status line was spoken while it ran, and is not part of the reply's history.
    expect(turn.spoken).toEqual(['Let me look that up.', 'Order A17 has shipped.']);
    expect(test.history.some((m) => m.content.includes('look that up'))).toBe(false);
    expect(turn.metrics).toHaveLength(1);
    await test.close();
  });

  it('a throwing hook is reported with the agent and hook, and the session keeps answering', async () => {
    const agent = defineAgent({
      name: 'fragile',
      instructions: 'Answer.',
      onUserTurn: () => {
        throw new Error('boom');
      },
      onEnter: async () => {
        await Promise.resolve();
        throw new Error('enter failed');
      },
    });
    const test = await startAgentTest(agent, { llm: ['First answer.', 'Second answer.'] });
    expect(test.errors.map((e) => e.message)).toEqual(['agent "fragile": onEnter threw: enter failed']);
    const first = await test.user('Hello');
    expect(first.said).toBe('First answer.');
    expect(first.errors.map((e) => e.message)).toEqual(['agent "fragile": onUserTurn threw: boom']);
    const second = await test.user('Again');
    expect(second.said).toBe('Second answer.');
    await test.close();
  });

  it('say, generateReply with instructions, and interrupt from agent code', async () => {
    const seen: string[] = [];
    const agent = defineAgent({
      name: 'host',
      instructions: 'Be brief.',
      onEnter: async ({ session }) => {
        const s = session as import('./agent-api.ts').AgentSession;
        await s.say('Welcome!', { allowInterruptions: false });
        await s.generateReply({ instructions: 'Ask for their name.' });
      },
    });
    const test = await startAgentTest(agent, {
      llm: [
        (messages) => {
          seen.push(messages[0].content);
          return 'What is your name?';
        },
      ],
    });
    expect(test.replies).toEqual(['Welcome!', 'What is your name?']);
    expect(seen[0]).toBe('Be brief.\n\nAsk for their name.');
    // The extra instructions were for that reply only.
    expect(test.history[0]).toEqual({ role: 'system', content: 'Be brief.' });
    const long = test.session.say('This is a long announcement that will be cut short by the agent code.');
    test.session.interrupt();
    expect((await long).outcome).toBe('interrupted');
    await test.close();
  });

  it('hands over from a tool: instructions, tools and voice change, the history carries over', async () => {
    // Billing's own voice (a TTS on real time, with no delay, so it runs beside the test's virtual clock).
    const billingVoice = new ScriptedTts({ clock: new MonotonicClock(), ttfbMs: 0 });
    const billing = defineAgent({
      name: 'billing',
      instructions: 'You are the billing agent.',
      tools: [lookup],
      tts: billingVoice,
    });
    const transfer = defineTool({
      name: 'transfer_to_billing',
      description: 'Transfer the caller to billing',
      parameters: z.object({}),
      execute: async () => handoff(billing, { summarize: true }),
    });
    const greeter = defineAgent({ name: 'greeter', instructions: 'You greet callers.', tools: [transfer] });
    const prompts: { system: string; tools: string[] }[] = [];
    const record = (text: string) => (messages: readonly { role: string; content: string }[]) => {
      prompts.push({ system: messages[0].content, tools: [] });
      return text;
    };
    const test = await startAgentTest(greeter, {
      llm: [
        { say: 'Let me transfer you.', tool: 'transfer_to_billing' },
        'The caller wants help with a bill.', // the summary for the next agent
        record('Billing here, how can I help?'),
        { tool: 'lookup_order', args: { order: 'B2' } },
        'B2 has shipped.',
      ],
    });
    const turn = await test.user('I have a question about my bill');
    expect(turn.handoffs).toEqual([{ from: 'greeter', to: 'billing' }]);
    expect(turn.replies).toEqual(['Let me transfer you.', 'Billing here, how can I help?']);
    expect(turn.agent).toBe('billing');
    // The voice changed with the agent: the greeter's words went to the session's TTS, billing's to its own.
    expect(billingVoice.segmentsSynthesized.join(' ')).toBe('Billing here, how can I help?');
    expect(prompts[0].system).toContain('You are the billing agent.');
    expect(prompts[0].system).toContain('The caller wants help with a bill.');
    // The history carried over: the user's words are still there for the billing agent.
    expect(test.history.some((m) => m.role === 'user' && m.content.includes('my bill'))).toBe(true);
    const next = await test.user('Where is order B2?');
    expect(next.toolCalls.map((c) => c.name)).toEqual(['lookup_order']);
    expect(next.said).toBe('B2 has shipped.');
    await test.close();
  });

  it('a tool that returns something agent-like but not an agent gets a clear error and no handoff', async () => {
    const fake = defineTool({
      name: 'transfer',
      description: 'Transfer',
      parameters: z.object({}),
      execute: async () => ({ name: 'billing', instructions: 'x', tools: [] }),
    });
    const agent = defineAgent({ name: 'greeter', instructions: 'Greet.', tools: [fake] });
    const test = await startAgentTest(agent, {
      llm: [{ tool: 'transfer' }, 'Sorry, I cannot transfer you.'],
    });
    const turn = await test.user('Billing please');
    expect(turn.handoffs).toEqual([]);
    expect(turn.toolCalls[0].isError).toBe(true);
    expect(turn.toolCalls[0].result).toMatch(
      /agent "greeter": tools \("transfer"\) return value looks like an agent/,
    );
    expect(turn.agent).toBe('greeter');
    await test.close();
  });
});
