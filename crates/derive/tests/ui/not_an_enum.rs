use hub_derive::JsonError;

#[derive(JsonError)]
#[json(key = "message")]
pub struct ApiError {
    pub text: String,
}

fn main() {}
