-- wrk script: POST one golden text per request, rotating through a file of request bodies.
--
--   wrk -t2 -c8 -d15s --latency -s bench/wrk_post.lua http://HOST:PORT/invocations -- BODY_FILE
--
-- BODY_FILE holds one JSON body per line ({"instances": ["..."]}, already JSON-escaped).
-- Every thread starts at a different place in the file so that the threads do not send the
-- same text at the same moment.

local requests = {}
local position = 0
local next_thread = 0

function setup(thread)
   thread:set("thread_index", next_thread)
   next_thread = next_thread + 1
end

function init(args)
   local path = args[1]
   if path == nil then
      error("wrk_post.lua needs the body file: wrk ... URL -- BODY_FILE")
   end
   local headers = { ["Content-Type"] = "application/json" }
   for line in io.lines(path) do
      if #line > 0 then
         requests[#requests + 1] = wrk.format("POST", nil, headers, line)
      end
   end
   if #requests == 0 then
      error("no request bodies in " .. path)
   end
   position = ((thread_index or 0) * 499) % #requests
end

function request()
   position = position % #requests + 1
   return requests[position]
end
