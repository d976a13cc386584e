import unittest

from router import MethodNotAllowed, NotFound, Router


def make():
    app = Router()

    @app.route("/users/{id:int}")
    def user(id):
        return ("user", id)

    @app.route("/files/{rest:path}")
    def files(rest):
        return ("file", rest)

    @app.route("/users", methods=["POST"])
    def create():
        return ("created",)

    return app


class RouterTests(unittest.TestCase):
    def test_params_are_converted(self):
        self.assertEqual(make().dispatch("GET", "/users/42"), ("user", 42))

    def test_path_parameter(self):
        self.assertEqual(make().dispatch("get", "/files/a/b.txt"), ("file", "a/b.txt"))

    def test_not_found(self):
        with self.assertRaises(NotFound):
            make().dispatch("GET", "/nothing")

    def test_method_not_allowed(self):
        with self.assertRaises(MethodNotAllowed):
            make().dispatch("GET", "/users")

    def test_unknown_type(self):
        with self.assertRaises(ValueError):
            Router().add("/x/{id:uuid}", print)


if __name__ == "__main__":
    unittest.main()
