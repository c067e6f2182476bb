// Verifies Cognito ID and access tokens with aws-jwt-verify's JwtRsaVerifier (explicit issuer and
// jwksUri, as an on-prem verifier must: CognitoJwtVerifier builds AWS hostnames), and prints one
// JSON line.
//
// stdin (JSON): {issuer, jwksUri, clientId, idToken?, accessToken?}
// stdout: {id?: {ok, payload?, error?}, access?: {ok, payload?, error?}, jwksKids}
//   - the ID token must have aud = clientId and token_use = "id";
//   - the access token must have no aud check (Cognito's has none), token_use = "access" and
//     client_id = clientId (checked in customJwtCheck).
import { JwtRsaVerifier } from 'aws-jwt-verify';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';

async function readStdin() {
	const chunks = [];
	for await (const chunk of process.stdin) chunks.push(chunk);
	return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const input = await readStdin();

const idVerifier = JwtRsaVerifier.create({
	issuer: input.issuer,
	audience: input.clientId,
	jwksUri: input.jwksUri,
	customJwtCheck: ({ payload }) => {
		if (payload.token_use !== 'id') throw new Error(`token_use is ${payload.token_use}, expected id`);
	},
});

const accessVerifier = JwtRsaVerifier.create({
	issuer: input.issuer,
	audience: null,
	jwksUri: input.jwksUri,
	customJwtCheck: ({ payload }) => {
		if (payload.token_use !== 'access') throw new Error(`token_use is ${payload.token_use}, expected access`);
		if (payload.client_id !== input.clientId) throw new Error(`client_id is ${payload.client_id}, expected ${input.clientId}`);
		if ('aud' in payload) throw new Error('access token carries aud');
	},
});

async function check(verifier, token) {
	try {
		return { ok: true, payload: await verifier.verify(token) };
	} catch (err) {
		return { ok: false, error: { name: err?.name ?? null, message: err?.message ?? String(err) } };
	}
}

const out = {};
if (input.idToken) out.id = await check(idVerifier, input.idToken);
if (input.accessToken) out.access = await check(accessVerifier, input.accessToken);
try {
	const jwks = await new SimpleJwksCache().getJwks(input.jwksUri);
	out.jwksKids = jwks.keys.map(k => k.kid);
} catch (err) {
	out.jwksKids = null;
	out.jwksError = err?.message ?? String(err);
}
process.stdout.write(`${JSON.stringify(out)}\n`);
