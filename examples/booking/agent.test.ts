import { startAgentTest } from 'repartee/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import host, { bookings } from './agent.ts';

describe('examples/booking', () => {
  beforeEach(() => {
    bookings.length = 0;
  });

  it('greets, collects party size, date and phone by voice, reads them back and books once confirmed', async () => {
    const test = await startAgentTest(host, {
      llm: [
        { tool: 'check_availability', args: { date: '2026-12-05', partySize: 4 } },
        { say: 'Yes, we have tables that evening.', tool: 'start_booking' },
        // The task's turn: it records what it already heard and asks for the rest.
        { tool: 'record_details', args: { partySize: 4, date: '2026-12-05' } },
        'What phone number should we put the booking under?',
        { tool: 'record_details', args: { phone: 'five five five, one two three, four five six seven' } },
        'A table for four on December fifth, phone 555 123 4567. Is that right?',
        { tool: 'confirm_details', args: { correct: true } },
        // Back with the host, which reads the booking's result.
        (messages) => {
          const result = messages.at(-1)?.content ?? '';
          return result.includes('reference R1') ? 'You are booked, reference R1. See you Saturday!' : result;
        },
      ],
    });
    expect(test.replies).toEqual(['Trattoria Uno, good evening! How can I help?']);

    const ask = await test.user('Do you have a table for four on Saturday the fifth? I would like to book.');
    expect(ask.toolCalls.map((c) => [c.name, c.args])).toEqual([
      ['check_availability', { date: '2026-12-05', partySize: 4 }],
      ['start_booking', {}],
      ['record_details', { partySize: 4, date: '2026-12-05' }],
    ]);
    expect(ask.handoffs).toEqual([{ from: 'host', to: 'booking-details' }]);
    expect(ask.said).toContain('What phone number');

    const phone = await test.user('five five five, one two three, four five six seven');
    expect(phone.toolCalls[0].result).toMatch(
      /All recorded: .*phone number for the booking: 5 5 5 1 2 3 4 5 6 7/,
    );
    expect(phone.said).toContain('Is that right?');
    expect(bookings).toEqual([]);

    const yes = await test.user('Yes, that is right.');
    expect(yes.handoffs).toEqual([{ from: 'booking-details', to: 'host' }]);
    expect(yes.said).toBe('You are booked, reference R1. See you Saturday!');
    expect(bookings).toEqual([{ reference: 'R1', partySize: 4, date: '2026-12-05', phone: '5551234567' }]);
    expect(yes.agent).toBe('host');
    // One turn record per user turn, on the virtual clock.
    expect(test.metrics.map((m) => m.turnId)).toEqual([1, 2, 3]);
    await test.close();
  });

  it('refuses a party too large and an impossible date, and keeps asking', async () => {
    const test = await startAgentTest(host, {
      llm: [
        { tool: 'start_booking' },
        { tool: 'record_details', args: { partySize: 40, date: '2026-02-30' } },
        'Sorry, we seat at most twelve. How many of you are coming?',
      ],
    });
    const turn = await test.user('A table for forty on February thirtieth');
    const record = turn.toolCalls.find((c) => c.name === 'record_details');
    expect(record?.isError).toBe(true);
    expect(record?.result).toMatch(/partySize/);
    expect(record?.result).toMatch(/date/);
    expect(turn.agent).toBe('booking-details');
    expect(bookings).toEqual([]);
    await test.close();
  });
});
