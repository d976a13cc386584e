import unittest

from router import NotFound, Router


class ExactMatchTests(unittest.TestCase):
    def setUp(self):
        self.app = Router()
        self.app.add("/users/{id:int}", lambda id: ("user", id))
        self.app.add("/users/{id:int}/edit", lambda id: ("edit", id))

    def test_longer_route_is_reached(self):
        self.assertEqual(self.app.dispatch("GET", "/users/7/edit"), ("edit", 7))

    def test_trailing_garbage_is_not_found(self):
        with self.assertRaises(NotFound):
            self.app.dispatch("GET", "/users/7/delete")
        with self.assertRaises(NotFound):
            self.app.dispatch("GET", "/users/7abc")

    def test_plain_match_still_works(self):
        self.assertEqual(self.app.dispatch("GET", "/users/7"), ("user", 7))


if __name__ == "__main__":
    unittest.main()
