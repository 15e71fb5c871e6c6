-- Shared by cc.lua and refresh.lua (loaded with dofile): Basic auth, counters, done().
--
-- wrk gives every thread its own Lua state; setup(thread) runs in the main state before
-- the thread's init(args), and done() runs in the main state after every thread stopped,
-- where thread:get(name) reads a global of that thread's state. wrk itself counts only
-- statuses > 399 as errors, so the scripts count every non-2xx response themselves.

local common = {}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function common.base64(data)
  return ((data:gsub(".", function(char)
    local bits, byte = "", char:byte()
    for i = 8, 1, -1 do
      bits = bits .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0")
    end
    return bits
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(bits)
    if #bits < 6 then
      return ""
    end
    local n = 0
    for i = 1, 6 do
      n = n + (bits:sub(i, i) == "1" and 2 ^ (6 - i) or 0)
    end
    return B64:sub(n + 1, n + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

function common.basic_auth(client_id, client_secret)
  return "Basic " .. common.base64(client_id .. ":" .. client_secret)
end

function common.urlencode(value)
  return (value:gsub("[^%w%-%._~]", function(char)
    return string.format("%%%02X", char:byte())
  end))
end

-- The main state keeps the threads, numbered from 1, for done().
local threads = {}

function common.setup(thread)
  threads[#threads + 1] = thread
  thread:set("id", #threads)
end

-- Per-thread counters (globals of the thread's state, read back by done()).
COUNTERS = { "ok", "non2xx", "bad_body", "empty_queue", "tokens_given" }
for _, name in ipairs(COUNTERS) do
  _G[name] = 0
end
first_error = ""

-- A response that is not a success: count it, and keep the thread's first one.
function common.failed(counter, text)
  _G[counter] = _G[counter] + 1
  if first_error == "" then
    first_error = text:sub(1, 200)
  end
end

-- The response()'s verdict on anything but 2xx; true if it was one.
function common.non2xx(status, body)
  if status < 200 or status > 299 then
    common.failed("non2xx", status .. " " .. (body or ""))
    return true
  end
  return false
end

local function json_string(value)
  local text = tostring(value):gsub('"', "'"):gsub("[%c\\]", " ")
  return '"' .. text .. '"'
end

-- One line, prefixed so that bench.py finds it after wrk's own report.
function common.done(summary, latency, _)
  local totals = {}
  for _, name in ipairs(COUNTERS) do
    totals[name] = 0
  end
  local first = ""
  local per_thread = {}
  for index, thread in ipairs(threads) do
    for _, name in ipairs(COUNTERS) do
      totals[name] = totals[name] + (tonumber(thread:get(name)) or 0)
    end
    per_thread[#per_thread + 1] = tostring(tonumber(thread:get("ok")) or 0)
    local err = thread:get("first_error") or ""
    if first == "" and err ~= "" then
      first = "thread " .. index .. ": " .. err
    end
  end
  local errors = summary.errors
  local fields = {
    string.format('"requests": %d', summary.requests),
    string.format('"duration_us": %d', summary.duration),
    string.format('"bytes": %d', summary.bytes),
    string.format(
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}',
      errors.connect, errors.read, errors.write, errors.status, errors.timeout
    ),
    string.format(
      '"latency_us": {"p50": %d, "p99": %d, "mean": %.1f, "max": %d}',
      latency:percentile(50), latency:percentile(99), latency.mean, latency.max
    ),
    string.format('"threads": %d', #threads),
    string.format('"ok_per_thread": [%s]', table.concat(per_thread, ", ")),
    '"first_error": ' .. json_string(first),
  }
  for _, name in ipairs(COUNTERS) do
    fields[#fields + 1] = string.format('"%s": %d', name, totals[name])
  end
  io.write("BENCH-WRK-JSON {", table.concat(fields, ", "), "}\n")
end

return common
