/**
 * A restaurant booking line: function tools for opening hours and availability, and a task that collects the
 * party size, the date and a phone number by voice, reads them back and books the table once confirmed.
 *
 *   repartee serve examples/booking/agent.ts
 */
import { defineAgent, defineTask, defineTool, fields } from 'repartee';
import { z } from 'zod';

export interface Booking {
  reference: string;
  partySize: number;
  date: string;
  phone: string;
}

/** The restaurant's book (in memory here; a real one would call its booking system). */
export const bookings: Booking[] = [];
const TABLES_PER_DAY = 10;

const seatsTaken = (date: string) => bookings.filter((b) => b.date === date).length;

const openingHours = defineTool({
  name: 'opening_hours',
  description: 'The opening hours of the restaurant',
  parameters: z.object({}),
  execute: async () => 'Tuesday to Sunday, 12:00 to 14:30 and 18:30 to 22:30; closed on Mondays.',
});

const checkAvailability = defineTool({
  name: 'check_availability',
  description: 'Whether a table is free on a date (YYYY-MM-DD) for a party',
  parameters: z.object({ date: z.iso.date(), partySize: z.number().int().min(1).max(12) }),
  execute: async ({ date, partySize }) => {
    if (new Date(`${date}T12:00:00Z`).getUTCDay() === 1)
      return { available: false, reason: 'closed on Mondays' };
    const free = TABLES_PER_DAY - seatsTaken(date);
    return free > 0
      ? { available: true, tablesLeft: free, partySize }
      : { available: false, reason: 'fully booked' };
  },
});

/** Collects and confirms the booking, books it, and hands back to the host with the reference. */
export const bookingDetails = defineTask({
  name: 'booking-details',
  instructions: 'You take down a table booking for Trattoria Uno.',
  fields: {
    partySize: fields.integer('how many people are coming', { min: 1, max: 12 }),
    date: fields.date('the date of the booking'),
    phone: fields.phone('a phone number for the booking'),
  },
  onComplete: async ({ partySize, date, phone }) => {
    if (seatsTaken(date) >= TABLES_PER_DAY) return `No table is left on ${date}; offer another date.`;
    const booking = { reference: `R${bookings.length + 1}`, partySize, date, phone };
    bookings.push(booking);
    return `Booked a table for ${partySize} on ${date}, reference ${booking.reference}. Tell the caller.`;
  },
});

const startBooking = defineTool({
  name: 'start_booking',
  description: 'Start taking a table booking (asks for party size, date and phone number)',
  parameters: z.object({}),
  execute: async () => bookingDetails,
});

export default defineAgent({
  name: 'host',
  instructions:
    'You answer the phone at Trattoria Uno, an Italian restaurant. Be brief and warm: one or two short sentences. ' +
    'For opening hours call opening_hours; to check a date call check_availability; when the caller wants to ' +
    'book a table call start_booking. After a booking, give the caller the reference.',
  tools: [openingHours, checkAvailability, startBooking],
  // At the start of a call the host greets; back from the booking task it goes on with the caller.
  onEnter: async ({ session, from }) => {
    if (from) await session.generateReply();
    else await session.say('Trattoria Uno, good evening! How can I help?');
  },
});
