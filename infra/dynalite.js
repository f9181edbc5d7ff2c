// Runs dynalite's command line, keeping the server up when a client drops a
// request it has only half sent. dynalite throws on such a request
// ('aborted', ECONNRESET), which would end the process and with it every test
// and local stack that uses it; a client's deadline firing mid-request (the
// authorizer's store timeout, say) is enough to cause one.
'use strict'
const path = require('path')

process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    console.error('dynalite: a client dropped a request half sent:', err.message)
    return
  }
  console.error(err)
  process.exit(1)
})

require(path.join(__dirname, 'node_modules', 'dynalite', 'cli.js'))
