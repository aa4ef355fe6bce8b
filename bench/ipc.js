// Request/response over a child's IPC channel: each request carries an id, the reply echoes
// it. Every call has a deadline so a wedged child can never hang the benchmark.
let nextId = 0

export function call(child, message, timeoutMs) {
  const id = ++nextId
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (!msg || msg.id !== id) return
      done()
      resolve(msg)
    }
    const onExit = (code, signal) => {
      done()
      reject(new Error(`pid ${child.pid} exited (${signal ?? code}) while waiting for ${describe(message)}`))
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`pid ${child.pid}: no reply to ${describe(message)} within ${timeoutMs} ms`))
    }, timeoutMs)
    function done() {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.on('exit', onExit)
    child.send({ ...message, id })
  })
}

const describe = (message) => message.op ?? message.probe ?? 'request'
