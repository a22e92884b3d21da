SELECT id, title, owner FROM app.todos
