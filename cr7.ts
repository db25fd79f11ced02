import koffi from 'koffi';
for (const n of [4, 100000]) {
const p = koffi.alloc('int16', n);
koffi.encode(p, 'int16', new Int16Array(n).fill(7), n);
const a = koffi.decode(p, 'int16', n) as Int16Array;
koffi.encode(p, 'int16', new Int16Array(n).fill(9), n);
console.log(n, a[0], a.buffer.byteLength);
}
