/**
 * Dev split: sentences written for this project (not taken from any corpus) to choose the default voice and STT
 * settings on. Numbers are written as words, so every engine reads them the same way and the reference needs no
 * normalisation. Categories: numbers, names, questions, long sentences, addresses, everyday replies.
 */
export const DEV_SENTENCES: readonly string[] = [
  // numbers
  'Your table for four is booked at seven thirty tonight.',
  'The train leaves at nine fifteen from platform twelve.',
  'That comes to thirty two dollars and fifty cents.',
  'I found three hundred and sixty results for that search.',
  'The meeting moved from Tuesday the fifth to Thursday the seventh.',
  'Set the oven to two hundred degrees for forty minutes.',
  // names
  'Sarah asked whether Michael could join the call later.',
  'Doctor Patel will see you on Monday morning.',
  'I sent the invoice to Jennifer Lopez at the office.',
  'Robert and Emily are flying to Chicago next week.',
  'The package for Mister Anderson arrived this afternoon.',
  'Please tell David that Karen called about the contract.',
  // questions
  'Would you like me to read the last message again?',
  'Do you want the weather for today or for the weekend?',
  'Should I remind you about this tomorrow morning?',
  'Which of the two flights would you prefer?',
  'Can you tell me the name of the restaurant?',
  'Is there anything else I can help you with today?',
  // long sentences
  'If the delivery does not arrive before noon, I will call the store and ask them to send another driver with the order as soon as they can.',
  'The report says that sales grew in every region except the north, where two large customers moved their accounts to a cheaper supplier last spring.',
  'Before you leave the house, remember to close the windows, turn off the heating in the kitchen and take the blue folder that is on the table.',
  'She explained that the new system would save the company a lot of money over the next few years, although the first months would be difficult.',
  'When the rain finally stopped, the children ran outside to play in the garden while their parents cleaned up the mess in the living room.',
  'According to the schedule, the bus stops at the library, the hospital and the train station before it reaches the airport around ten.',
  // addresses
  'The office is at forty five Baker Street, second floor.',
  'Send it to twelve Oak Avenue in Springfield.',
  'Turn left on Main Street and the bank is on your right.',
  'The hotel is on Park Road, next to the old church.',
  'Her new address is eighty one River Lane, apartment six.',
  'Drive north on Highway one for about twenty miles.',
  // everyday replies
  'Sure, I have added milk and bread to your shopping list.',
  'Sorry, I did not catch that, could you say it again?',
  'Your alarm is set for six in the morning.',
  'It will be sunny and warm with a light wind from the west.',
  'Okay, I will play some quiet music in the bedroom.',
  'The store closes at eight, so you still have an hour.',
];
