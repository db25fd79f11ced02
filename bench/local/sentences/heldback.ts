/**
 * Held-back split: written separately from the dev split and never used to choose anything. Report it beside the
 * dev figures; a choice that only holds on dev is not a choice. Same categories and conventions as dev.ts.
 */
export const HELDBACK_SENTENCES: readonly string[] = [
  // numbers
  'Your flight number is two four six and boarding starts at eleven.',
  'The parcel weighs about fourteen pounds.',
  'We need sixty chairs and eight tables for the party.',
  'The battery is at nineteen percent, so please charge it soon.',
  'Call me back in fifteen minutes.',
  // names
  'Thomas wrote to Maria about the school trip.',
  'Professor Williams moved the lecture to room nine.',
  'Lisa and Kevin are having dinner with us on Friday.',
  'The nurse said that Daniel is feeling much better.',
  'Ask George if he still has the keys to the garage.',
  // questions
  'How many people are coming to the dinner?',
  'Did you want me to cancel the appointment?',
  'What time should I wake you up tomorrow?',
  'Would you rather take the bus or a taxi?',
  'Are you sure you want to delete the whole file?',
  // long sentences
  'The doctor told him to drink more water, walk for half an hour every day and come back in a month so they could check his blood pressure again.',
  'After the storm knocked out the power, the neighbours shared candles and food until the lights came back on late in the evening.',
  'Most of the money will go to the new bridge, and the rest will be used to repair the roads that were damaged during the winter.',
  'If you book the tickets online before the end of the week, you will get a discount and a free drink at the concert.',
  'My brother always says that the best part of a long journey is the moment you finally see your own front door again.',
  // addresses
  'The clinic is at seventy Green Street, near the park.',
  'Go straight past the school and take the second right.',
  'She lives at three Maple Drive in the town centre.',
  'Meet me at the corner of Fifth Avenue and Elm Street.',
  'The museum is on Queen Street, across from the market.',
  // everyday replies
  'Done, the lights in the kitchen are now off.',
  'I have moved your dentist appointment to next Wednesday.',
  'There is a pharmacy open until midnight two blocks away.',
  'Your package should arrive the day after tomorrow.',
  'Good night, and sleep well.',
];
