use fintecture_oauth::{Error, api};

// One trait per kind of item: the client's implementation is left out for each, so that
// rustc reports nothing more.
#[api]
pub trait Method {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<(), Error>;
    fn helper(&self) -> u32;
}

#[api]
pub trait Constant {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<(), Error>;
    const LIMIT: u32;
}

#[api]
pub trait Type {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<(), Error>;
    type Page;
}

fn main() {}
