-- client_credentials grants: POST /token with HTTP Basic client authentication.
--
--   wrk -t 2 -c 8 -d 10s --timeout 10s -s bench/wrk/cc.lua http://127.0.0.1:PORT \
--       -- CLIENT_ID CLIENT_SECRET
--
-- The request is the same every time (a static request: wrk builds it once per thread).
-- Prints one "BENCH-WRK-JSON {...}" line at the end (see common.lua).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

setup = common.setup
done = common.done

function init(args)
  -- args[0] is the URL; then what follows "--".
  local client_id, client_secret = args[1], args[2]
  assert(client_id and client_secret, "usage: -- CLIENT_ID CLIENT_SECRET")
  wrk.method = "POST"
  wrk.path = "/token"
  wrk.body = "grant_type=client_credentials"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = common.basic_auth(client_id, client_secret)
end

function response(status, _, body)
  if common.non2xx(status, body) then
    return
  end
  if not body:find('"access_token"', 1, true) then
    common.failed("bad_body", status .. " without access_token: " .. body)
  else
    ok = ok + 1
  end
end
