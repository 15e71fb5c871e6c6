-- refresh_token grants, each refresh token used once (idp rotates them, and a rotated
-- token that comes back revokes its whole family).
--
--   wrk -t 2 -c 8 -d 10s --timeout 10s -s bench/wrk/refresh.lua http://127.0.0.1:PORT \
--       -- TOKENS_FILE THREADS CLIENT_ID CLIENT_SECRET
--
-- TOKENS_FILE holds one live refresh token per connection, one a line; THREADS is wrk's
-- -t. Thread i (1-based) keeps lines i, i + THREADS, i + 2 × THREADS… as its queue.
-- request() pops a token, response() pushes the rotated one it receives: a token leaves
-- the queue when it is sent and only a new token comes back, so none is sent twice,
-- whichever connection of the thread sends next. wrk calls response() before it asks for
-- the connection's next request, with keep-alive or when the server closes the
-- connection (gunicorn sync workers; wrk then reconnects and calls request()).
--
-- If the queue is empty (a response was lost: read error, timeout, non-2xx), the request
-- carries an empty refresh_token: idp answers 400, counted in "empty_queue" and "non2xx".
-- Prints one "BENCH-WRK-JSON {...}" line at the end (see common.lua).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

setup = common.setup
done = common.done

local queue = {}
local empty_request
local verified = false

function init(args)
  local path, threads, client_id, client_secret = args[1], tonumber(args[2]), args[3], args[4]
  assert(path and threads and client_id and client_secret,
    "usage: -- TOKENS_FILE THREADS CLIENT_ID CLIENT_SECRET")
  wrk.method = "POST"
  wrk.path = "/token"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = common.basic_auth(client_id, client_secret)
  local line_number = 0
  for line in io.lines(path) do
    if line ~= "" then
      if line_number % threads == id - 1 then
        queue[#queue + 1] = line
      end
      line_number = line_number + 1
    end
  end
  empty_request = wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=")
  tokens_given = #queue
end

function request()
  if not verified then
    -- wrk calls request() once in thread 1, before any connection, to check that it
    -- returns a valid HTTP request (script_verify_request), and discards it: no token
    -- is spent on that call. Were a wrk version to send it, it would be the empty
    -- refresh token (one counted 400), never a token sent twice.
    verified = true
    if id == 1 then
      return empty_request
    end
  end
  local n = #queue
  if n == 0 then
    empty_queue = empty_queue + 1
    return empty_request
  end
  local token = queue[n]
  queue[n] = nil
  return wrk.format(nil, nil, nil,
    "grant_type=refresh_token&refresh_token=" .. common.urlencode(token))
end

function response(status, _, body)
  if common.non2xx(status, body) then
    return
  end
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    ok = ok + 1
    queue[#queue + 1] = token
  else
    common.failed("bad_body", status .. " without refresh_token: " .. body)
  end
end
