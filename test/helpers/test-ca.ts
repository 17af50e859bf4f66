import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A certificate issued by a TestCa: file paths (PEM) and their contents. */
export interface IssuedCertificate {
  /** The leaf, followed by the intermediate when one signed it (a served chain). */
  readonly certFile: string
  readonly keyFile: string
  readonly cert: Buffer
  readonly key: Buffer
}

export interface TestCa {
  readonly dir: string
  /** The root certificate a client trusts. */
  readonly caFile: string
  readonly ca: Buffer
  /** A server certificate for `names` (DNS names or IP addresses), signed by the root or by an intermediate. */
  issue(file: string, names: readonly string[], options?: { viaIntermediate?: boolean }): IssuedCertificate
  remove(): void
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/**
 * A throw-away certificate authority made with the openssl CLI in a temporary folder: a root, an intermediate
 * and server certificates with subjectAltNames, so that clients in tests verify what the balancer serves.
 */
export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-ca-'))
  writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n')
  openssl(dir, ['req', '-x509', ...EC_KEY, '-subj', '/CN=Switchyard Test Root', '-days', '2', '-keyout', 'root.key', '-out', 'root.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  openssl(dir, ['req', ...EC_KEY, '-subj', '/CN=Switchyard Test Intermediate', '-keyout', 'inter.key', '-out', 'inter.csr'])
  openssl(dir, ['x509', '-req', '-in', 'inter.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'ca.ext', '-out', 'inter.pem'])
  const caFile = join(dir, 'root.pem')
  return {
    dir,
    caFile,
    ca: readFileSync(caFile),
    issue(file, names, options = {}) {
      const sans = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')
      writeFileSync(join(dir, `${file}.ext`), `subjectAltName=${sans}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`)
      openssl(dir, ['req', ...EC_KEY, '-subj', `/CN=${names[0]}`, '-keyout', `${file}.key`, '-out', `${file}.csr`])
      const [ca, caKey] = options.viaIntermediate === true ? ['inter.pem', 'inter.key'] : ['root.pem', 'root.key']
      openssl(dir, ['x509', '-req', '-in', `${file}.csr`, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-days', '2',
        '-extfile', `${file}.ext`, '-out', `${file}.leaf.pem`])
      const leaf = readFileSync(join(dir, `${file}.leaf.pem`))
      const cert = options.viaIntermediate === true ? Buffer.concat([leaf, readFileSync(join(dir, 'inter.pem'))]) : leaf
      const certFile = join(dir, `${file}.pem`)
      writeFileSync(certFile, cert)
      return { certFile, keyFile: join(dir, `${file}.key`), cert, key: readFileSync(join(dir, `${file}.key`)) }
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
