// Signs a user in with amazon-cognito-identity-js against a Portcullis endpoint, the way a browser
// or Node app does (CognitoUserPool({endpoint}) + authenticateUser), and prints one JSON line.
//
// stdin (JSON): {
//   endpoint, userPoolId, clientId, username, password,
//   authFlow?        "USER_SRP_AUTH" (default) | "USER_PASSWORD_AUTH",
//   newPassword?     answer a NEW_PASSWORD_REQUIRED challenge with this password,
//   newAttributes?   {name: value} sent with it (required attributes),
//   refresh?         after signing in, call refreshSession with the session's refresh token
// }
// stdout: {
//   outcome: "success" | "newPasswordRequired" | "failure",
//   step: where it ended ("authenticate" | "newPassword" | "refresh"),
//   tokens?: {idToken, accessToken, refreshToken}, sessionValid?, idPayload?, accessPayload?,
//   challenge?: {userAttributes, requiredAttributes}   (the NEW_PASSWORD_REQUIRED callback's arguments)
//   refreshed?: {idToken, accessToken, refreshToken, sessionValid},
//   error?: {code, name, message}
// }
import AmazonCognitoIdentity from 'amazon-cognito-identity-js';

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = AmazonCognitoIdentity;

async function readStdin() {
	const chunks = [];
	for await (const chunk of process.stdin) chunks.push(chunk);
	return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function errorOf(err) {
	return { code: err?.code ?? null, name: err?.name ?? null, message: err?.message ?? String(err) };
}

function tokensOf(session) {
	return {
		idToken: session.getIdToken().getJwtToken(),
		accessToken: session.getAccessToken().getJwtToken(),
		refreshToken: session.getRefreshToken().getToken(),
	};
}

function finish(result) {
	process.stdout.write(`${JSON.stringify(result)}\n`);
	process.exit(0);
}

const input = await readStdin();
const pool = new CognitoUserPool({
	UserPoolId: input.userPoolId,
	ClientId: input.clientId,
	endpoint: input.endpoint.endsWith('/') ? input.endpoint : `${input.endpoint}/`,
});
const user = new CognitoUser({ Username: input.username, Pool: pool });
user.setAuthenticationFlowType(input.authFlow ?? 'USER_SRP_AUTH');
const details = new AuthenticationDetails({ Username: input.username, Password: input.password });
const result = { outcome: null, step: 'authenticate' };

function onSignedIn(session) {
	result.tokens = tokensOf(session);
	result.sessionValid = session.isValid();
	result.idPayload = session.getIdToken().decodePayload();
	result.accessPayload = session.getAccessToken().decodePayload();
	if (!input.refresh) {
		result.outcome = 'success';
		finish(result);
	}
	result.step = 'refresh';
	user.refreshSession(session.getRefreshToken(), (err, refreshed) => {
		if (err) {
			result.outcome = 'failure';
			result.error = errorOf(err);
			finish(result);
		}
		result.outcome = 'success';
		result.refreshed = { ...tokensOf(refreshed), sessionValid: refreshed.isValid() };
		finish(result);
	});
}

const callbacks = {
	onSuccess: onSignedIn,
	onFailure: err => {
		result.outcome = 'failure';
		result.error = errorOf(err);
		finish(result);
	},
	newPasswordRequired: (userAttributes, requiredAttributes) => {
		result.challenge = { userAttributes, requiredAttributes };
		if (!input.newPassword) {
			result.outcome = 'newPasswordRequired';
			finish(result);
		}
		result.step = 'newPassword';
		// As the library's documentation says: attributes the API does not take back are removed.
		delete userAttributes.email_verified;
		delete userAttributes.phone_number_verified;
		user.completeNewPasswordChallenge(input.newPassword, input.newAttributes ?? {}, callbacks);
	},
	mfaRequired: () => finish({ ...result, outcome: 'failure', error: { code: 'UnexpectedChallenge', message: 'SMS_MFA' } }),
	totpRequired: () => finish({ ...result, outcome: 'failure', error: { code: 'UnexpectedChallenge', message: 'SOFTWARE_TOKEN_MFA' } }),
	customChallenge: () => finish({ ...result, outcome: 'failure', error: { code: 'UnexpectedChallenge', message: 'CUSTOM_CHALLENGE' } }),
};

user.authenticateUser(details, callbacks);
