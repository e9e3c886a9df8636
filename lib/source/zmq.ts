/**
 * Which ZMQ socket types talk to each other. libzmq checks the peer's type in the ZMTP handshake and
 * drops a connection between types that do not pair: a PUB connected to a PUB sends nothing anywhere.
 * The table is the ZMTP specification's (RFC 23 and 28); test/cli/zmq-pairs.test.ts holds it against
 * libzmq itself, through pyzmq.
 */
/** ZMQ's socket types, as pyzmq names them (`zmq.PUB`). */
export const ZMQ_SOCKET_TYPES = [
  'PAIR',
  'PUB',
  'SUB',
  'XPUB',
  'XSUB',
  'REQ',
  'REP',
  'DEALER',
  'ROUTER',
  'PUSH',
  'PULL',
] as const;
export type ZmqSocketType = (typeof ZMQ_SOCKET_TYPES)[number];

export const ZMQ_PEERS: Readonly<Record<ZmqSocketType, readonly ZmqSocketType[]>> = {
  PAIR: ['PAIR'],
  PUB: ['SUB', 'XSUB'],
  SUB: ['PUB', 'XPUB'],
  XPUB: ['SUB', 'XSUB'],
  XSUB: ['PUB', 'XPUB'],
  REQ: ['REP', 'ROUTER'],
  REP: ['REQ', 'DEALER'],
  DEALER: ['REP', 'DEALER', 'ROUTER'],
  ROUTER: ['REQ', 'DEALER', 'ROUTER'],
  PUSH: ['PULL'],
  PULL: ['PUSH'],
};

/** Whether a socket of type `a` and one of type `b` exchange messages once connected. */
export const zmqPair = (a: ZmqSocketType, b: ZmqSocketType): boolean => ZMQ_PEERS[a].includes(b);
