import { describe, expect, it } from 'vitest';
import { findIPv4 } from '../../lib/ipv4.ts';

describe('findIPv4', () => {
  it.each([
    ['http://192.168.100.16:9000/x', [{ address: '192.168.100.16', index: 7 }]],
    ['subnet 172.20.0.0/16', [{ address: '172.20.0.0', prefix: '/16', index: 7 }]],
    [
      'a 10.0.0.1 and 10.0.0.2',
      [
        { address: '10.0.0.1', index: 2 },
        { address: '10.0.0.2', index: 15 },
      ],
    ],
    ['256.1.1.1 is no address', []],
    ['nor is 01.2.3.4 (a leading zero)', []],
    ['version 1.2.3.4.5 is a longer dotted number', []],
    ['port 7200', []],
  ])('finds the addresses of %j', (text, expected) => {
    expect(findIPv4(text)).toEqual(expected);
  });
});
