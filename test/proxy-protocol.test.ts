import assert from 'node:assert/strict'
import net, { type AddressInfo, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { buildProxyHeader, buildProxyV1, buildProxyV2, proxyEndpointsOf, type ProxyEndpoints } from '../src/proxy/proxy-protocol.js'
import { parseProxyHeader } from './helpers/tcp-echo.js'
import { within } from './helpers/wait.js'

const SIGNATURE = '0d0a0d0a000d0a515549540a'

function ends(source: string, sourcePort: number, destination: string, destinationPort: number): ProxyEndpoints {
  return { sourceAddress: source, sourcePort, destinationAddress: destination, destinationPort }
}

const hex = (b: Buffer): string => b.toString('hex')

describe('PROXY protocol version 1', () => {
  it('writes TCP4 with source, destination, then the two ports', () => {
    assert.equal(buildProxyV1(ends('192.0.2.1', 56324, '198.51.100.2', 443)), 'PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n')
  })

  it('writes TCP6 for IPv6 addresses', () => {
    assert.equal(buildProxyV1(ends('2001:db8::1', 1234, '2001:db8::2', 8443)), 'PROXY TCP6 2001:db8::1 2001:db8::2 1234 8443\r\n')
  })

  it('counts IPv4-mapped IPv6 (a dual-stack listener) as IPv4', () => {
    assert.equal(buildProxyV1(ends('::ffff:192.0.2.1', 1000, '::FFFF:10.0.0.1', 80)), 'PROXY TCP4 192.0.2.1 10.0.0.1 1000 80\r\n')
  })

  it('writes both in IPv6 when only one is IPv4, and drops a zone', () => {
    assert.equal(buildProxyV1(ends('192.0.2.1', 1, 'fe80::1%eth0', 2)), 'PROXY TCP6 ::ffff:192.0.2.1 fe80::1 1 2\r\n')
  })

  it('says UNKNOWN when an end is not known (the socket already closed)', () => {
    assert.equal(buildProxyV1({ sourceAddress: undefined, sourcePort: undefined, destinationAddress: '127.0.0.1', destinationPort: 80 }), 'PROXY UNKNOWN\r\n')
  })

  it('stays within the 107 bytes a receiver reads, for the longest addresses', () => {
    const longest = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'
    assert.ok(buildProxyV1(ends(longest, 65535, longest, 65535)).length <= 107)
  })
})

describe('PROXY protocol version 2', () => {
  it('encodes TCP over IPv4: signature, 0x21, 0x11, length 12, addresses and ports in network order', () => {
    const header = buildProxyV2(ends('192.0.2.1', 56324, '198.51.100.2', 443))
    assert.equal(hex(header), `${SIGNATURE}2111000c` + 'c0000201' + 'c6336402' + 'dc04' + '01bb')
  })

  it('encodes TCP over IPv6: family 0x21, length 36, 16-byte addresses', () => {
    const header = buildProxyV2(ends('2001:db8::1', 1234, '::1', 8443))
    assert.equal(
      hex(header),
      `${SIGNATURE}21210024` + '20010db8000000000000000000000001' + '00000000000000000000000000000001' + '04d2' + '20fb',
    )
  })

  it('encodes an IPv4-mapped client as TCP over IPv4', () => {
    const header = buildProxyV2(ends('::ffff:127.0.0.1', 40000, '::ffff:127.0.0.1', 8080))
    assert.equal(hex(header), `${SIGNATURE}2111000c` + '7f000001' + '7f000001' + '9c40' + '1f90')
  })

  it('encodes a dotted IPv4 tail of a real IPv6 address (NAT64) in the last four bytes', () => {
    const header = buildProxyV2(ends('64:ff9b::192.0.2.33', 1, '2001:db8:0:0:1:2:3:4', 2))
    assert.equal(
      hex(header),
      `${SIGNATURE}21210024` + '0064ff9b0000000000000000c0000221' + '20010db8000000000001000200030004' + '0001' + '0002',
    )
  })

  it('sends AF_UNSPEC with no address block when an end is not known', () => {
    const header = buildProxyV2({ sourceAddress: undefined, sourcePort: undefined, destinationAddress: undefined, destinationPort: undefined })
    assert.equal(hex(header), `${SIGNATURE}21000000`)
  })

  it('reads back through an independent parser', () => {
    for (const version of ['v1', 'v2'] as const) {
      const parsed = parseProxyHeader(Buffer.concat([buildProxyHeader(version, ends('2001:db8::7', 5, '2001:db8::8', 6)), Buffer.from('data')]))
      assert.ok(parsed !== undefined && parsed !== 'more')
      assert.equal(parsed.header.family, 'TCP6')
      assert.equal(parsed.header.sourcePort, 5)
      assert.equal(parsed.header.destinationPort, 6)
    }
  })
})

describe('proxyEndpointsOf', () => {
  it("takes the client's address and port, and the address and port it connected to", async () => {
    const server = net.createServer()
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const serverPort = (server.address() as AddressInfo).port
    const client = net.connect(serverPort, '127.0.0.1')
    try {
      const socket = await within('the connection', accepted)
      await within('the client connected', new Promise((resolve) => (client.connecting ? client.once('connect', resolve) : resolve(undefined))))
      assert.deepEqual(proxyEndpointsOf(socket), ends('127.0.0.1', client.localPort!, '127.0.0.1', serverPort))
      socket.destroy()
    } finally {
      client.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})
