/* Solves a join's proof of work off the main thread (a module worker), with ALTCHA's solver and the browser's own
 * PBKDF2 (WebCrypto), and reports progress so the page can show it.
 * In:  {challenge: {parameters, signature}}          (as POST /api/events/<slug>/challenge gave it)
 * Out: {progress: attempts, expected: attempts}      (a few times a second)
 *      {done: {challenge, solution}}                 (the join's `pow` argument)
 *      {error: "..."}                                (no solution within the time limit, or no WebCrypto)
 */
import { solveChallenge } from "../vendor/altcha/pow.js";
import { deriveKey } from "../vendor/altcha/algorithms/web/pbkdf2.js";

self.onmessage = async function (msg) {
  const challenge = msg.data && msg.data.challenge;
  const expected = Math.pow(16, String(challenge.parameters.keyPrefix || "").length);
  let attempts = 0;
  let last = 0;
  const counted = function (parameters, salt, password) {
    attempts += 1;
    const now = performance.now();
    if (now - last > 150) { last = now; self.postMessage({progress: attempts, expected: expected}); }
    return deriveKey(parameters, salt, password);
  };
  try {
    const solution = await solveChallenge({challenge: challenge, deriveKey: counted, timeout: 240000});
    if (!solution) { self.postMessage({error: "timeout"}); return; }
    self.postMessage({done: {challenge: challenge, solution: solution}});
  } catch (e) {
    self.postMessage({error: String(e && e.message || e)});
  }
};
