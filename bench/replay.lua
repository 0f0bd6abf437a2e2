-- wrk script: replay pre-built HTTP requests, each with its own headers and body.
--
-- The file (first argument after `--`) holds records "<byte length>\n<raw request>".
-- Each wrk thread takes every Nth record (N = thread count), so threads never send
-- the same signed request, and cycles through them if the run outlasts the file.
-- done() prints one line "BENCH_JSON {...}" that bench/load.py reads.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  local total = tonumber(args[2])
  local pos, index = 1, 0
  reqs = {}
  while pos <= #data do
    local newline = string.find(data, "\n", pos, true)
    local length = tonumber(string.sub(data, pos, newline - 1))
    if index % total == id then
      reqs[#reqs + 1] = string.sub(data, newline + 1, newline + length)
    end
    pos = newline + 1 + length
    index = index + 1
  end
  loaded = #reqs
  next_index = 0
  sent = 0
end

function request()
  local raw = reqs[next_index + 1]
  next_index = (next_index + 1) % #reqs
  sent = sent + 1
  return raw
end

function done(summary, latency, requests)
  local loaded, sent_total = 0, 0
  for _, thread in ipairs(threads) do
    loaded = loaded + thread:get("loaded")
    sent_total = sent_total + thread:get("sent")
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"non_2xx_3xx": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, ' ..
    '"loaded": %d, "sent": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    errors.status, errors.connect, errors.read, errors.write, errors.timeout, loaded, sent_total))
end
