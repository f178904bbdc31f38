"""Blog comment clients (WordPress REST, Isso) behind one protocol; no Discord here."""

from bot.blogs.errors import BlogError, rejected_reason, user_reason
from bot.blogs.isso import IssoComments
from bot.blogs.models import Author, BlogComment, CommentClient, CommentStatus, PostRef
from bot.blogs.wordpress import WordPressAccount, WordPressComments

__all__ = [
    "Author",
    "BlogComment",
    "BlogError",
    "CommentClient",
    "CommentStatus",
    "IssoComments",
    "PostRef",
    "WordPressAccount",
    "WordPressComments",
    "rejected_reason",
    "user_reason",
]
