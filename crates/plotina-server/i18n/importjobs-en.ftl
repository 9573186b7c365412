# Imports left behind by a stopped process, and imports started through the API
importpage-status-interrupted = Interrupted
importpage-interrupted = The import was interrupted (the server stopped): { $done } of { $total } rows had been written and are kept. Undo the import to take them back, then import the file again.
import_interrupted = The import was interrupted: the server stopped while it ran
import_still_running = The import is still running; wait until it finishes
import-marked-interrupted = Import { $id } had been left running by a stopped process: marked interrupted (undo it with `plotina import undo { $id }`)
