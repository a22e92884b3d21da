-- Used by query_file_as! in tests/macros.rs.
SELECT name, title, archived, created_by FROM support.rooms WHERE name = $1
