/* Time and text formatting shared by every page (participant, console, board, start page): the server's clock as
 * this page knows it, countdowns, times of day, durations, {name} placeholders and error texts. No texts here: pages
 * pass their translated ones in.
 */

/** Fill {name} placeholders; a placeholder without a value stays as it is. */
export function fmt(text, values) {
  return String(text).replace(/\{(\w+)\}/g, function (m, k) {
    return values && values[k] !== undefined && values[k] !== null ? String(values[k]) : m;
  });
}

/** "m:ss" (or "h:mm:ss") for a countdown or a time waited, in whole seconds rounded up. */
export function clock(ms) {
  var s = Math.max(0, Math.ceil(ms / 1000));
  var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  var mm = h ? (m < 10 ? "0" : "") + m : String(m);
  return (h ? h + ":" : "") + mm + ":" + (sec < 10 ? "0" : "") + sec;
}

/** "HH:MM" of a local time, always 24-hour (also the value format of <input type=time>). */
export function hhmm(ms) {
  var d = new Date(ms);
  return (d.getHours() < 10 ? "0" : "") + d.getHours() + ":" + (d.getMinutes() < 10 ? "0" : "") + d.getMinutes();
}

/** A time of day in the page's language (hours and minutes). */
export function timeOfDay(ms, locale) {
  try {
    return new Date(ms).toLocaleTimeString(locale, {hour: "2-digit", minute: "2-digit"});
  } catch (e) {  // an unknown locale
    return hhmm(ms);
  }
}

/** "1 min 05 s" style durations from the texts dur_s, dur_ms, dur_m, dur_hm (abbreviated units: no plural forms).
 * `coarse`: in steps of 10 s, then of whole minutes (for a live region a screen reader must not read every second). */
export function duration(ms, texts, coarse) {
  var s = Math.max(0, Math.floor((ms || 0) / 1000));
  if (coarse && s < 60) return fmt(texts.dur_s, {s: Math.floor(s / 10) * 10 || s});
  if (coarse && s < 3600) return fmt(texts.dur_m, {m: Math.floor(s / 60)});
  if (s < 60) return fmt(texts.dur_s, {s: s});
  if (s < 3600) return fmt(texts.dur_ms, {m: Math.floor(s / 60), s: (s % 60 < 10 ? "0" : "") + (s % 60)});
  return fmt(texts.dur_hm, {h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60)});
}

/** The translated text of an error ({code, message}; texts.errors and texts.fields), naming the refused field when
 * the server's message quotes it; `fallback` is the code whose text stands in for an unknown one. */
export function errorText(texts, err, fallback) {
  err = err || {code: fallback};
  var text = texts.errors[err.code] || texts.errors[fallback];
  var m = /'(\w+)'/.exec(err.message || "");
  if (m && texts.fields && texts.fields[m[1]]) text += " (" + texts.fields[m[1]] + ")";
  return text;
}

/** The server's clock as the page last learnt it: offset = server time minus local time. */
export function serverClock() {
  return {
    offset: 0,
    /** The server's time now, estimated. */
    now: function () { return Date.now() + this.offset; },
    /** Learn the offset from a payload's `server_now` (ignored when missing). */
    learn: function (serverNow) { if (typeof serverNow === "number") this.offset = serverNow - Date.now(); }
  };
}
