// ringstate-client.lsl: a Second Life client for a ringstate server (docs/second-life.md).
//
// Put this script and a notecard named "ringstate-hosts" (one host:port per line, # comments;
// see hosts.notecard.example) in an object, fill in OBJECT_ID, SECRET and EXPIRES below (and
// TOKEN_URL to renew), and set the script to no-modify for the next owner so the secret stays
// unreadable.
//
// What it does:
//   - sends every request through one queue, at most one per REQUEST_SPACING seconds, so the
//     object stays under llHTTPRequest's throttle (about one per second);
//   - signs each request: llHMAC(SECRET, METHOD\nPATH\nTIME\nNONCE\nPAYLOAD, "sha256");
//   - renews its credential, which ends with the player token that made it: a minute before
//     EXPIRES, or when a request is refused CREDENTIAL_EXPIRED, it asks TOKEN_URL for a fresh
//     player token, sends it to POST /v1/sl/objects/renew (same object id, so the cursor and
//     command ids carry on), then sends the refused request again; the renewed secret lives in
//     script memory (after a reset the first request is refused and it renews again);
//   - rotates to the next host when a request is throttled (NULL_KEY), times out (499) or
//     fails on the server (5xx), and retries it there with the same command id, so a command
//     is applied once however many hosts it tries;
//   - follows one aggregate's events by push to an HTTP-in URL (re-registered on region
//     restart, on host change and every ttl/2), or by long-poll when push is off or refused,
//     resuming by seq from the last event it delivered (kept in linkset data across resets).
//
// Link messages (llMessageLinked to this prim, or from it to LINK_SET):
//   in  RS_CMD    str = command JSON, e.g. {"type":"move","x":1,"y":2}; id = command id or NULL_KEY
//   out RS_ACK    str = {"id","seq","dup"};                              id = command id
//   out RS_ERR    str = {"error":{"code","message","reason"?},"id"};    id = command id
//   out RS_EVENT  str = {"s":seq,"p":player,"e":[events]} or {"s","p","big":1}; num = RS_EVENT
//   out RS_RESET  str = "<seq>": events before seq were skipped (too far behind); read the state
//   in  RS_STATE  str = "" or "key,key" (view keys); out RS_VIEW str = {"seq","v":{...}}
//   out RS_STATUS str = "host=<host> seq=<seq> mode=<push|poll> free=<bytes>"

// ---- configuration ----
string OBJECT_ID = "";          // from POST /v1/sl/objects
string SECRET = "";             // from POST /v1/sl/objects
integer EXPIRES = 0;            // "exp" from POST /v1/sl/objects (unix seconds)
string TOKEN_URL = "";          // your backend: POST {"object":id} -> {"token":"<player token>"}; "" = no renewal
string AGG_TYPE = "player";     // the aggregate to follow and command
string AGG_ID = "";             // "" = the player the object id belongs to
integer USE_PUSH = TRUE;        // HTTP-in push; long-poll when FALSE or refused
integer WAIT_SECONDS = 20;      // long-poll wait (the server caps it at 25)
string SCHEME = "http://";      // "https://" when the hosts terminate TLS
string NOTECARD = "ringstate-hosts";
float REQUEST_SPACING = 1.05;   // seconds between requests
integer QUEUE_MAX = 24;         // queued requests; commands beyond are refused locally

integer RS_CMD = 7301;
integer RS_ACK = 7302;
integer RS_ERR = 7303;
integer RS_EVENT = 7304;
integer RS_RESET = 7305;
integer RS_STATE = 7306;
integer RS_VIEW = 7307;
integer RS_STATUS = 7308;

// ---- state ----
list hosts;
integer hostIdx;
integer line;
key noteReq;
integer after = -1;             // -1: not known yet; read the state first
list queue;                     // strided: kind, method, path, payload, tag
integer Q = 5;
list pending;                   // strided: request key, kind, method, path, payload, tag, host
integer P = 7;
float lastSend = -10.0;
integer polling;                // a long-poll is queued or in flight
string myUrl;
key urlReq = NULL_KEY;
integer registered;
integer renewAt;                // unix time of the next registration
key tokenReq = NULL_KEY;        // renewal step 1: the fresh player token
key credReq = NULL_KEY;         // renewal step 2: POST /v1/sl/objects/renew
integer holdUntil;              // no requests before this (renewing, or a renewal failed)

string nextHost() {
    return llList2String(hosts, hostIdx);
}

rotate(string why) {
    hostIdx = (hostIdx + 1) % llGetListLength(hosts);
    llOwnerSay("ringstate: " + why + ", now using " + nextHost());
    // Push registrations live in one node's memory: register with the new host too.
    if (registered) { registered = FALSE; enqueueRegister(); }
}

enqueue(string kind, string method, string path, string payload, string tag, integer front) {
    list item = [kind, method, path, payload, tag];
    if (front) queue = item + queue;
    else queue += item;
}

enqueueRegister() {
    // Registration needs the cursor: wait for the first state read when it is not known yet.
    if (!USE_PUSH || myUrl == "" || after < 0 || llListFindList(queue, ["r"]) != -1) return;
    enqueue("r", "POST", "/v1/sl/register", "", "", TRUE);
}

enqueuePoll() {
    if (polling || (USE_PUSH && registered)) return;
    polling = TRUE;
    enqueue("p", "GET", "/v1/sl/events", "", "", FALSE);
}

// Payloads of polls and registrations carry the cursor, so they are built when sent.
string payloadOf(string kind, string payload) {
    if (kind == "p")
        return "a=" + llEscapeURL(AGG_TYPE) + "&after=" + (string)after + "&i=" + llEscapeURL(AGG_ID) + "&wait=" + (string)WAIT_SECONDS;
    if (kind == "r")
        return llList2Json(JSON_OBJECT, ["a", AGG_TYPE, "i", AGG_ID, "url", myUrl, "after", after]);
    return payload;
}

// A credential lives no longer than the player token that made it: get a fresh token and renew.
renew() {
    if (tokenReq != NULL_KEY || credReq != NULL_KEY || llGetUnixTime() < holdUntil) return;
    if (TOKEN_URL == "") { llOwnerSay("ringstate: credential expired; set TOKEN_URL or provision again"); holdUntil = llGetUnixTime() + 300; return; }
    holdUntil = llGetUnixTime() + 60;
    tokenReq = llHTTPRequest(TOKEN_URL, [HTTP_METHOD, "POST", HTTP_MIMETYPE, "application/json"], llList2Json(JSON_OBJECT, ["object", OBJECT_ID]));
}

renewFailed(string why) {
    tokenReq = NULL_KEY;
    credReq = NULL_KEY;
    holdUntil = llGetUnixTime() + 30;
    llOwnerSay("ringstate: renewal failed (" + why + "), retrying in 30 s");
}

sendNext() {
    if (queue == [] || llGetTime() - lastSend < REQUEST_SPACING || llGetUnixTime() < holdUntil) return;
    string kind = llList2String(queue, 0);
    string method = llList2String(queue, 1);
    string path = llList2String(queue, 2);
    string payload = payloadOf(kind, llList2String(queue, 3));
    string tag = llList2String(queue, 4);
    queue = llDeleteSubList(queue, 0, Q - 1);
    lastSend = llGetTime();
    integer t = llGetUnixTime();
    string nonce = (string)llGenerateKey();
    string sig = llHMAC(SECRET, method + "\n" + path + "\n" + (string)t + "\n" + nonce + "\n" + payload, "sha256");
    string host = nextHost();
    string url = SCHEME + host + path;
    string body = "";
    list opts = [HTTP_METHOD, method,
        HTTP_CUSTOM_HEADER, "X-Ringstate-Object", OBJECT_ID,
        HTTP_CUSTOM_HEADER, "X-Ringstate-Time", (string)t,
        HTTP_CUSTOM_HEADER, "X-Ringstate-Nonce", nonce,
        HTTP_CUSTOM_HEADER, "X-Ringstate-Signature", sig];
    // Without EXPIRES (a credential from before they expired) the node answers CREDENTIAL_EXPIRED and the script renews.
    if (EXPIRES > 0) opts += [HTTP_CUSTOM_HEADER, "X-Ringstate-Expires", (string)EXPIRES];
    if (method == "GET") url += "?" + payload;
    else { body = payload; opts += [HTTP_MIMETYPE, "application/json"]; }
    key req = llHTTPRequest(url, opts, body);
    if (req == NULL_KEY) {
        // Throttled (or refused) before leaving the region: try the next host, same request.
        rotate("throttled");
        if (kind == "p" || kind == "r") payload = "";
        enqueue(kind, method, path, payload, tag, TRUE);
        return;
    }
    pending += [req, kind, method, path, payload, tag, host];
}

takeBatch(string body) {
    list items = llJson2List(llJsonGetValue(body, ["ev"]));
    integer n = llGetListLength(items);
    integer k;
    for (k = 0; k < n; ++k) {
        string item = llList2String(items, k);
        integer s = (integer)llJsonGetValue(item, ["s"]);
        if (s > after) {
            after = s;
            llMessageLinked(LINK_SET, RS_EVENT, item, NULL_KEY);
        }
    }
    if (llJsonGetValue(body, ["reset"]) == "1") {
        after = (integer)llJsonGetValue(body, ["seq"]);
        llMessageLinked(LINK_SET, RS_RESET, (string)after, NULL_KEY);
    }
    llLinksetDataWrite("rs.after", (string)after);
}

string queryParam(string query, string name) {
    list parts = llParseString2List(query, ["&"], []);
    integer n = llGetListLength(parts);
    integer k;
    for (k = 0; k < n; ++k) {
        string part = llList2String(parts, k);
        if (llSubStringIndex(part, name + "=") == 0) return llGetSubString(part, llStringLength(name) + 1, -1);
    }
    return "";
}

requestUrl() {
    if (!USE_PUSH) return;
    if (myUrl != "") llReleaseURL(myUrl);
    myUrl = "";
    registered = FALSE;
    urlReq = llRequestURL();
}

status() {
    string mode = "poll";
    if (registered) mode = "push";
    llMessageLinked(LINK_SET, RS_STATUS, "host=" + nextHost() + " seq=" + (string)after + " mode=" + mode + " free=" + (string)llGetFreeMemory(), NULL_KEY);
}

default {
    state_entry() {
        if (OBJECT_ID == "" || SECRET == "") { llOwnerSay("ringstate: set OBJECT_ID and SECRET"); return; }
        if (AGG_ID == "") AGG_ID = llGetSubString(OBJECT_ID, 0, llSubStringIndex(OBJECT_ID, ".") - 1);
        string saved = llLinksetDataRead("rs.after");
        if (saved != "") after = (integer)saved;
        if (llGetInventoryType(NOTECARD) != INVENTORY_NOTECARD) { llOwnerSay("ringstate: missing notecard " + NOTECARD); return; }
        line = 0;
        noteReq = llGetNotecardLine(NOTECARD, line);
    }

    dataserver(key id, string data) {
        if (id != noteReq) return;
        if (data == EOF) {
            if (hosts == []) { llOwnerSay("ringstate: no hosts in " + NOTECARD); return; }
            hostIdx = (integer)llFrand(llGetListLength(hosts));
            if (after < 0) enqueue("s", "GET", "/v1/sl/state", "a=" + llEscapeURL(AGG_TYPE) + "&i=" + llEscapeURL(AGG_ID), "", FALSE);
            else enqueuePoll();
            requestUrl();
            llSetTimerEvent(1.0);
            return;
        }
        data = llStringTrim(data, STRING_TRIM);
        if (data != "" && llGetSubString(data, 0, 0) != "#") hosts += data;
        noteReq = llGetNotecardLine(NOTECARD, ++line);
    }

    timer() {
        if (EXPIRES > 0 && llGetUnixTime() >= EXPIRES - 60) renew();
        if (registered && llGetUnixTime() >= renewAt) { registered = FALSE; enqueueRegister(); }
        sendNext();
    }

    link_message(integer sender, integer num, string str, key id) {
        if (num == RS_CMD) {
            if (id == NULL_KEY) id = llGenerateKey();
            if (llGetListLength(queue) / Q >= QUEUE_MAX) {
                llMessageLinked(LINK_SET, RS_ERR, llList2Json(JSON_OBJECT, ["error", llList2Json(JSON_OBJECT, ["code", "QUEUE_FULL", "message", "too many queued requests"]), "id", (string)id]), id);
                return;
            }
            if (llJsonValueType(str, []) != JSON_OBJECT) {
                llMessageLinked(LINK_SET, RS_ERR, llList2Json(JSON_OBJECT, ["error", llList2Json(JSON_OBJECT, ["code", "INVALID_COMMAND", "message", "the command must be a JSON object"]), "id", (string)id]), id);
                return;
            }
            // llList2Json escapes the strings; the command is spliced in as the JSON it already is.
            string head = llList2Json(JSON_OBJECT, ["id", (string)id, "a", AGG_TYPE, "i", AGG_ID]);
            string body = llGetSubString(head, 0, -2) + ",\"c\":" + str + "}";
            enqueue("c", "POST", "/v1/sl/commands", body, (string)id, FALSE);
        } else if (num == RS_STATE) {
            string query = "a=" + llEscapeURL(AGG_TYPE) + "&i=" + llEscapeURL(AGG_ID);
            if (str != "") query += "&k=" + llEscapeURL(str);
            enqueue("v", "GET", "/v1/sl/state", query, "", FALSE);
        } else if (num == RS_STATUS && str == "") {
            status();
        }
    }

    http_response(key req, integer code, list meta, string body) {
        if (req == tokenReq) {
            tokenReq = NULL_KEY;
            string token = llJsonGetValue(body, ["token"]);
            if (code != 200 || token == JSON_INVALID) { renewFailed("token " + (string)code); return; }
            credReq = llHTTPRequest(SCHEME + nextHost() + "/v1/sl/objects/renew", [HTTP_METHOD, "POST", HTTP_MIMETYPE, "application/json",
                HTTP_CUSTOM_HEADER, "Authorization", "Bearer " + token], llList2Json(JSON_OBJECT, ["o", OBJECT_ID]));
            return;
        }
        if (req == credReq) {
            credReq = NULL_KEY;
            if (code != 200) { if (code == 499 || code >= 500) rotate((string)code); renewFailed("renew " + (string)code); return; }
            SECRET = llJsonGetValue(body, ["secret"]);
            EXPIRES = (integer)llJsonGetValue(body, ["exp"]);
            holdUntil = 0;
            // A registration ends with the credential that made it, and pushes are signed with it.
            if (registered) { registered = FALSE; enqueueRegister(); }
            return;
        }
        integer at = llListFindList(pending, [req]);
        if (at == -1) return;
        string kind = llList2String(pending, at + 1);
        string method = llList2String(pending, at + 2);
        string path = llList2String(pending, at + 3);
        string payload = llList2String(pending, at + 4);
        string tag = llList2String(pending, at + 5);
        string host = llList2String(pending, at + 6);
        pending = llDeleteSubList(pending, at, at + P - 1);
        if (kind == "p" || kind == "r") payload = "";
        if (code == 401 && llJsonGetValue(body, ["error", "code"]) == "CREDENTIAL_EXPIRED") {
            // Send it again once renewed; nothing was applied.
            enqueue(kind, method, path, payload, tag, TRUE);
            renew();
            return;
        }
        if (code == 499 || code >= 500 || code == 429) {
            // 499: timed out or unreachable; 5xx: node failing or stopping; 429: too fast here.
            if (code != 429 && host == nextHost()) rotate((string)code);
            enqueue(kind, method, path, payload, tag, TRUE);
            return;
        }
        if (kind == "c") {
            if (code == 200) llMessageLinked(LINK_SET, RS_ACK, body, (key)tag);
            else llMessageLinked(LINK_SET, RS_ERR, body, (key)tag);
        } else if (kind == "p") {
            polling = FALSE;
            if (code == 200) takeBatch(body);
            enqueuePoll();
        } else if (kind == "r") {
            if (code == 200) {
                registered = TRUE;
                renewAt = llGetUnixTime() + (integer)llJsonGetValue(body, ["ttl"]) / 2;
            } else {
                llOwnerSay("ringstate: push refused (" + (string)code + "), long-polling instead");
                USE_PUSH = FALSE;
                enqueuePoll();
            }
        } else if (kind == "s" || kind == "v") {
            if (code == 200) {
                if (after < 0) {
                    after = (integer)llJsonGetValue(body, ["seq"]);
                    llLinksetDataWrite("rs.after", (string)after);
                }
                llMessageLinked(LINK_SET, RS_VIEW, body, NULL_KEY);
            }
            if (kind == "s") { enqueueRegister(); enqueuePoll(); }
        }
    }

    http_request(key id, string method, string body) {
        if (id == urlReq) {
            urlReq = NULL_KEY;
            if (method == URL_REQUEST_GRANTED) { myUrl = body; enqueueRegister(); }
            else { llOwnerSay("ringstate: no HTTP-in URL, long-polling"); enqueuePoll(); }
            return;
        }
        if (method != "POST") { llHTTPResponse(id, 405, ""); return; }
        // A push: verify the node's signature (query t, n, s) before trusting the batch.
        string query = llGetHTTPHeader(id, "x-query-string");
        string t = queryParam(query, "t");
        string n = queryParam(query, "n");
        string sig = llUnescapeURL(queryParam(query, "s"));
        if (sig != llHMAC(SECRET, "POST\n/v1/sl/push\n" + t + "\n" + n + "\n" + body, "sha256") || llAbs(llGetUnixTime() - (integer)t) > 300) {
            llHTTPResponse(id, 403, "");
            return;
        }
        takeBatch(body);
        llHTTPResponse(id, 200, "ok");
    }

    changed(integer change) {
        if (change & CHANGED_INVENTORY) llResetScript();
        // The region restarted or the object moved to another one: the old URL is gone.
        if (change & (CHANGED_REGION_START | CHANGED_REGION | CHANGED_TELEPORT)) requestUrl();
    }

    on_rez(integer param) {
        requestUrl();
    }
}
