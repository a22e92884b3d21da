SELECT id, title
FROM app.todos
WHERE done = $1
