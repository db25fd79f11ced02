/**
 * A support line: a greeter finds out what the caller needs and hands billing questions over to a billing
 * agent, which has its own instructions and tools (and gets a summary of the call so far).
 *
 *   repartee serve examples/support/agent.ts
 */
import { defineAgent, defineTool, handoff } from 'repartee';
import { z } from 'zod';

/** A billing system stand-in: invoices by account number. */
export const invoices: Record<string, { amount: number; due: string; paid: boolean }[]> = {
  '1001': [
    { amount: 42.5, due: '2026-12-15', paid: false },
    { amount: 39.99, due: '2026-11-15', paid: true },
  ],
};
export const refunds: { account: string; amount: number; reason: string }[] = [];

const lookupInvoices = defineTool({
  name: 'lookup_invoices',
  description: "The caller's invoices, by account number",
  parameters: z.object({ account: z.string().regex(/^\d{4,10}$/, 'an account number is 4 to 10 digits') }),
  execute: async ({ account }, { say }) => {
    say('One moment, I am pulling up your account.');
    const found = invoices[account];
    if (!found) throw new Error(`no account ${account}`);
    return found;
  },
});

const requestRefund = defineTool({
  name: 'request_refund',
  description: 'File a refund request for an amount on an account, with the reason the caller gave',
  parameters: z.object({
    account: z.string(),
    amount: z.number().positive().max(500),
    reason: z.string().min(3),
  }),
  execute: async (refund) => {
    refunds.push(refund);
    return `Refund request ${refunds.length} filed; it takes 3 to 5 working days.`;
  },
});

export const billing = defineAgent({
  name: 'billing',
  instructions:
    'You are the billing specialist of Acme Broadband. Ask for the account number if you do not have it, look ' +
    'invoices up with lookup_invoices, and file refunds with request_refund. Short, clear sentences.',
  tools: [lookupInvoices, requestRefund],
  onEnter: async ({ session }) => {
    await session.generateReply({
      instructions: 'Introduce yourself as billing and continue from the summary.',
    });
  },
});

const transferToBilling = defineTool({
  name: 'transfer_to_billing',
  description: 'Hand the caller over to the billing specialist (invoices, payments, refunds)',
  parameters: z.object({}),
  execute: async () => handoff(billing, { summarize: true }),
});

export default defineAgent({
  name: 'greeter',
  instructions:
    'You answer the support line of Acme Broadband. Find out what the caller needs in one or two questions. ' +
    'For anything about bills, payments or refunds call transfer_to_billing. Be brief.',
  tools: [transferToBilling],
  onEnter: async ({ session }) => {
    await session.say('Acme Broadband support, how can I help?');
  },
});
