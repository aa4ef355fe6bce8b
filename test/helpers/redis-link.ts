import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * What a link lets through: everything, nothing (connections dropped), nothing yet (held until
 * restored, as a partition does), or only connections with a given name.
 */
type Mode = { kind: 'open' } | { kind: 'cut' } | { kind: 'frozen' } | { kind: 'named'; prefix: string }

interface Pair {
  client: Socket
  redis: Socket
  /** Bytes held while the link is frozen, each for the side it was going to. */
  held: [Socket, Buffer][]
}

/** The names of the RESP commands in a chunk a client sent (`*N $len NAME ...`). */
const commandNames = (chunk: Buffer): string[] =>
  [...chunk.toString('latin1').matchAll(/\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/g)].map((m) => m[1]!.toUpperCase())

/** The name a connection gives itself with `CLIENT SETNAME`, if this chunk does. */
const clientName = (chunk: Buffer): string | undefined =>
  /SETNAME\r\n\$\d+\r\n([^\r]*)\r\n/i.exec(chunk.toString('latin1'))?.[1]

/**
 * One replica's network path to Redis, which a test can cut: a TCP relay on a free loopback
 * port whose `url` the replica gets as REDIS_URL. Cutting it cuts that replica alone off Redis,
 * both its connections, as a network partition does, while the other replicas go on.
 */
export class RedisLink {
  readonly url: string
  /** Commands whose connection the link dropped for not being named (in `onlyNamed` mode). */
  readonly refused: string[] = []
  readonly #server: Server
  readonly #pairs = new Set<Pair>()
  #mode: Mode = { kind: 'open' }

  private constructor(server: Server, port: number) {
    this.#server = server
    this.url = `redis://127.0.0.1:${port}`
  }

  static async open(redisPort: number): Promise<RedisLink> {
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const address = server.address()
    if (typeof address !== 'object' || address === null) throw new Error('the link has no port')
    const link = new RedisLink(server, address.port)
    server.on('connection', (client) => link.#relay(client, redisPort))
    return link
  }

  /** Drops every connection through the link and refuses new ones until `restore()`. */
  cut(): void {
    this.#mode = { kind: 'cut' }
    for (const pair of this.#pairs) this.#drop(pair)
  }

  /**
   * Lets through only connections that name themselves `prefix...` (`CLIENT SETNAME`, which
   * ioredis sends before anything else); any other is dropped at its first command past
   * `CLIENT`, so it never gets ready. E.g. a replica's subscriber gets back, its command
   * connection does not.
   */
  onlyNamed(prefix: string): void {
    this.#mode = { kind: 'named', prefix }
  }

  /**
   * A partition: every connection stays open and new ones are taken, but no byte goes through
   * either way (no error, no close) until `restore()`, which delivers what was held, as TCP
   * does after a partition heals. Connections closed meanwhile lose what they held.
   */
  freeze(): void {
    this.#mode = { kind: 'frozen' }
  }

  restore(): void {
    this.#mode = { kind: 'open' }
    for (const pair of this.#pairs) {
      for (const [to, chunk] of pair.held.splice(0)) to.write(chunk)
    }
  }

  async close(): Promise<void> {
    for (const pair of this.#pairs) this.#drop(pair)
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #relay(client: Socket, redisPort: number): void {
    client.on('error', () => {})
    if (this.#mode.kind === 'cut') {
      client.destroy()
      return
    }
    const redis = connect(redisPort, '127.0.0.1')
    redis.on('error', () => {})
    const pair: Pair = { client, redis, held: [] }
    this.#pairs.add(pair)
    let name: string | undefined
    client.on('data', (chunk: Buffer) => {
      name ??= clientName(chunk)
      const mode = this.#mode
      if (mode.kind === 'named' && !name?.startsWith(mode.prefix)) {
        const other = commandNames(chunk).find((command) => command !== 'CLIENT')
        if (other) {
          this.refused.push(other)
          this.#drop(pair)
          return
        }
      }
      if (mode.kind === 'frozen') pair.held.push([redis, chunk])
      else redis.write(chunk)
    })
    redis.on('data', (chunk: Buffer) => {
      if (this.#mode.kind === 'frozen') pair.held.push([client, chunk])
      else client.write(chunk)
    })
    client.on('close', () => this.#drop(pair))
    redis.on('close', () => this.#drop(pair))
  }

  #drop(pair: Pair): void {
    this.#pairs.delete(pair)
    pair.client.destroy()
    pair.redis.destroy()
  }
}
