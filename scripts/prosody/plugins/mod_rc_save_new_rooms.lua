-- Test-fixture helper for Prosody 0.12 MUC (load on the MUC component).
--
-- Prosody writes a new room to disk only when its config, subject or
-- affiliations change later, or on graceful shutdown. A room created by a
-- plain join (status 201, no config form) is therefore lost if the server is
-- SIGKILLed, although its MAM archive (muc_log store) stays on disk.
-- Crash tests want "kill -9 + restart" to keep rooms, so persist each new
-- persistent room as soon as it has been created.
module:hook("muc-room-created", function(event)
	local room = event.room;
	if room:get_persistent() then
		local ok, err = room:save(true);
		if ok then
			module:log("debug", "Saved new room %s", room.jid);
		else
			module:log("error", "Could not save new room %s: %s", room.jid, tostring(err));
		end
	end
end, -100);
