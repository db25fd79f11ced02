import { startAgentTest } from 'repartee/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import greeter, { refunds } from './agent.ts';

describe('examples/support', () => {
  beforeEach(() => {
    refunds.length = 0;
  });

  it('the greeter hands billing over to the billing agent, which looks up invoices and files a refund', async () => {
    const prompts: string[] = [];
    const test = await startAgentTest(greeter, {
      llm: [
        { say: 'Let me put you through to billing.', tool: 'transfer_to_billing' },
        'The caller was charged twice and wants a refund.', // the summary the billing agent gets
        (messages) => {
          prompts.push(messages[0].content);
          return 'Billing here. What is your account number?';
        },
        { tool: 'lookup_invoices', args: { account: '1001' } },
        'Your December invoice of 42.50 is open; November is paid.',
        { tool: 'request_refund', args: { account: '1001', amount: 39.99, reason: 'charged twice' } },
        'Done: refund request 1 is filed, it takes 3 to 5 working days.',
      ],
    });
    expect(test.replies).toEqual(['Acme Broadband support, how can I help?']);

    const first = await test.user('I was charged twice last month');
    expect(first.handoffs).toEqual([{ from: 'greeter', to: 'billing' }]);
    expect(first.toolCalls.map((c) => c.name)).toEqual(['transfer_to_billing']);
    expect(first.replies).toEqual([
      'Let me put you through to billing.',
      'Billing here. What is your account number?',
    ]);
    // The billing agent's own instructions, the summary, and its onEnter's instructions for that reply.
    expect(prompts[0]).toContain('billing specialist of Acme Broadband');
    expect(prompts[0]).toContain('The caller was charged twice and wants a refund.');
    expect(prompts[0]).toContain('Introduce yourself as billing');
    expect(first.agent).toBe('billing');

    const account = await test.user('It is one zero zero one');
    expect(account.toolCalls).toEqual([
      expect.objectContaining({ name: 'lookup_invoices', args: { account: '1001' }, isError: false }),
    ]);
    expect(account.spoken[0]).toBe('One moment, I am pulling up your account.');
    expect(account.said).toContain('42.50');

    const refund = await test.user('Please refund the November one, I paid it twice');
    expect(refund.toolCalls.map((c) => c.name)).toEqual(['request_refund']);
    expect(refunds).toEqual([{ account: '1001', amount: 39.99, reason: 'charged twice' }]);
    expect(refund.said).toContain('refund request 1');
    // The history carried over the handoff: the first words are still there.
    expect(test.history.some((m) => m.role === 'user' && m.content.includes('charged twice'))).toBe(true);
    await test.close();
  });

  it('the greeter has no billing tools: a call to one is an error the LLM reads', async () => {
    const test = await startAgentTest(greeter, {
      llm: [
        { tool: 'lookup_invoices', args: { account: '1001' } },
        'Let me transfer you to billing for that.',
      ],
    });
    const turn = await test.user('What do I owe?');
    expect(turn.toolCalls[0]).toMatchObject({ name: 'lookup_invoices', isError: true });
    expect(turn.toolCalls[0].result).toMatch(/no tool named "lookup_invoices"/);
    await test.close();
  });
});
